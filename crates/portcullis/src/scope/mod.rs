//! Scopes: the catalog, compiled scope sets and requirement expressions.

pub mod catalog;
pub mod expr;
pub mod set;

pub use catalog::{
    Catalog, CatalogBuilder, CatalogError, CatalogMismatch, Grant, ScopeInfo, is_valid_scope_name,
};
pub use expr::{Evaluation, ExprError, ExprErrorKind, Requirement, Shortfall};
pub use set::{MAX_SCOPES, ScopeSet};
