// `sqlx::migrate!` embeds the migrations at compile time; without this a new migration file
// would not rebuild the crate, and a role would start without the table.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
