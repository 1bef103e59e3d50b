pub mod analyst;
pub mod audit;
pub mod certs;
pub mod keys;
pub mod policy;
pub mod role_config;
