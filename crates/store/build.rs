// `sqlx::migrate!` embeds the test migrations at compile time; without this a new migration file
// would not rebuild the tests.
fn main() {
    println!("cargo:rerun-if-changed=tests/migrations");
}
