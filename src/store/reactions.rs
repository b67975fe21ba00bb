//! Carries out, inside the write's transaction, the reactions the domain plans for it.

use super::Actor;
use crate::db::Db;
use crate::domain::reactions::{Reaction, Written, plan};
use crate::error::ApiResult;

pub fn run(conn: &mut Db, actor: &Actor, written: &Written) -> ApiResult<()> {
    for reaction in plan(written) {
        apply(conn, actor, reaction)?;
    }
    Ok(())
}

fn apply(_conn: &mut Db, _actor: &Actor, reaction: Reaction) -> ApiResult<()> {
    match reaction {}
}
