//! Scopes: the catalog, compiled scope sets and requirement expressions.

mod catalog;
mod expr;
mod set;

pub use catalog::{
    Catalog, CatalogBuilder, CatalogError, CatalogMismatch, Grant, MAX_SCOPE_LEN, ScopeInfo,
    is_valid_scope_name,
};
pub use expr::{
    Evaluation, ExprError, ExprErrorKind, MAX_EXPR_DEPTH, MAX_EXPR_LEN, MAX_EXPR_TERMS,
    Requirement, Shortfall,
};
pub use set::{MAX_SCOPES, ScopeSet};
