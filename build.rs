// The migrations are embedded at compile time (`embed_migrations!`): rebuild when one
// is added or changed, as diesel's documentation advises.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
