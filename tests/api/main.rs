//! Black-box tests over HTTP: one binary, a fresh database and app per test.

mod abuse;
mod auth;
mod contract;
mod cox;
mod crash;
mod helpers;
mod home;
mod instruments;
mod isolation;
mod journeys;
mod mfa;
mod operations;
mod patients;
mod records;
mod research;
mod safety;
mod security;
mod spectrum;
mod seeing;
mod summaries;
mod stalls;
mod trajectory;
mod users;
mod webhooks;
