//! Shared by the crash child and the crash test: how to open the store under test.

use cashier_store::{Store, StoreError};

/// Where the store under test lives: `sqlite:<dir>` or `postgres:<schema>@<url>`.
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    if let Some(dir) = spec.strip_prefix("sqlite:") {
        return Ok(Box::new(cashier_store_sqlite::SqliteStore::open_in(std::path::Path::new(dir))?));
    }
    if let Some(rest) = spec.strip_prefix("postgres:") {
        let (schema, url) = rest.split_once('@').ok_or_else(|| StoreError::Backend(format!("bad spec {spec}")))?;
        return Ok(Box::new(cashier_store_postgres::PostgresStore::connect(url, Some(schema))?));
    }
    Err(StoreError::Backend(format!("unknown store {spec}")))
}

/// The pool code the crash ledger uses.
pub const CODE: &str = "CRSH";

/// The crash ledger in a store, if an earlier round set it up.
pub fn find(spec: &str) -> Option<cashier_store::CashPool> {
    let loaded = open(spec).ok()?.load().ok()??;
    cashier_store::CashPool::find(&loaded.state, CODE).filter(|pool| pool.customers.len() == CUSTOMERS)
}

/// Customers the child pays, and the amount of each payment in cents.
pub const CUSTOMERS: usize = 20;
pub const AMOUNT: i64 = 100;
/// What the firm account is funded with.
pub const FUNDING: i64 = 1_000_000_000;
