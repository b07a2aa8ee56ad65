//! Scopes: the catalog, compiled scope sets and requirement expressions.

pub mod catalog;
pub mod expr;
pub mod set;

pub use catalog::{Catalog, CatalogBuilder, CatalogError, Grant, ScopeInfo, is_valid_scope_name};
pub use expr::{ExprError, ExprErrorKind, Requirement, Shortfall};
pub use set::{MAX_SCOPES, ScopeSet};
