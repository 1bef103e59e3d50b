pub mod certs;
pub mod keys;
pub mod policy;
pub mod transcryptor;
