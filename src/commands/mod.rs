pub mod audit;
pub mod bench;
pub mod certs;
pub mod coordinator;
pub mod demo;
pub mod keys;
pub mod policy;
pub mod transcryptor;
