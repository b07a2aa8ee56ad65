//! `Policy` (loaded once, immutable, shared) and `Requirement` evaluation.

use crate::errors;
use crate::input;
use crate::oauth_server::PyOAuthConfig;
use portcullis::policy::MAX_POLICY_LEN;
use portcullis::{Policy, PolicyError, PolicyIssue, Requirement};
use portcullis_store::files::{Accept, FileError, read};
use pyo3::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// A loaded, validated policy (catalog, routes, transport, lifecycle). Immutable.
#[pyclass(frozen, module = "portcullis._portcullis", name = "Policy")]
pub struct PyPolicy {
    pub(crate) inner: Arc<Policy>,
}

/// A compiled scope requirement (`claims:read & orders:read`, `a | b`).
#[pyclass(frozen, module = "portcullis._portcullis", name = "Requirement")]
pub struct PyRequirement {
    policy: Arc<Policy>,
    inner: Requirement,
}

impl PyRequirement {
    /// The compiled requirement.
    pub(crate) fn inner(&self) -> &Requirement {
        &self.inner
    }
    /// The id of the catalog it was compiled against.
    pub(crate) fn catalog_id(&self) -> u64 {
        self.policy.catalog().id()
    }
}

/// The result of evaluating a requirement against granted scopes.
#[pyclass(
    frozen,
    get_all,
    module = "portcullis._portcullis",
    name = "Evaluation"
)]
pub struct PyEvaluation {
    /// Whether the grants meet the requirement.
    allowed: bool,
    /// Scopes missing from the closest alternative (empty when allowed).
    missing: Vec<String>,
    /// Every scope of the closest alternative (empty when allowed).
    required: Vec<String>,
}

/// The effective scopes of a list of grants.
#[pyclass(frozen, get_all, module = "portcullis._portcullis", name = "Grant")]
pub struct PyGrant {
    /// Every scope granted, implications and wildcards expanded, in catalog order.
    scopes: Vec<String>,
    /// How many grant strings the catalog does not know (they grant nothing).
    unknown: usize,
}

fn load(py: Python<'_>, text: &str) -> PyResult<PyPolicy> {
    let owned = text.to_owned();
    py.detach(move || Policy::from_toml(&owned))
        .map(|p| PyPolicy { inner: Arc::new(p) })
        .map_err(|e| errors::policy(py, &e))
}

/// Why a policy file could not be read.
enum ReadFailure {
    /// Not readable, or not a regular file or a pipe: the message.
    Io(String),
    /// Over [`MAX_POLICY_LEN`]: the error `Policy.from_toml` gives for such a text.
    TooLarge(PolicyError),
}

/// Reads a policy file (a regular file or a pipe) up to [`MAX_POLICY_LEN`] bytes, by the
/// store crate's shared rules.
fn read_policy_file(path: &Path) -> Result<Vec<u8>, ReadFailure> {
    let shown = path.display();
    read(path, Accept::RegularOrPipe, MAX_POLICY_LEN).map_err(|e| match e {
        FileError::Io(e) => ReadFailure::Io(format!("cannot read policy {shown}: {e}")),
        FileError::NotAccepted(what) => ReadFailure::Io(format!(
            "cannot read policy {shown}: not a regular file or a pipe (it is {what})"
        )),
        FileError::TooLarge(limit) => ReadFailure::TooLarge(PolicyError {
            issues: vec![PolicyIssue {
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("policy is larger than {limit} bytes"),
            }],
        }),
    })
}

fn names(policy: &Policy, set: &portcullis::ScopeSet) -> Vec<String> {
    policy.catalog().names(set).map(str::to_owned).collect()
}

#[pymethods]
impl PyPolicy {
    /// Loads a policy from TOML text; raises `PolicyError` listing every problem.
    #[staticmethod]
    fn from_toml(py: Python<'_>, text: &str) -> PyResult<Self> {
        load(py, text)
    }

    /// Loads a policy from a TOML file (`str` or path-like): a regular file or a pipe,
    /// read up to its 4 MiB limit and never further (a larger one raises `PolicyError`, as
    /// the same text would); a directory or a device such as `/dev/zero` is refused before
    /// it is read (`ConfigurationError`, code `io`).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let text = read_policy_file(&path).map_err(|failure| match failure {
            ReadFailure::Io(message) => errors::configuration(py, &message, "io"),
            ReadFailure::TooLarge(e) => errors::policy(py, &e),
        })?;
        let text = String::from_utf8(text).map_err(|_| {
            errors::configuration(
                py,
                &format!("policy {} is not UTF-8", path.display()),
                "encoding",
            )
        })?;
        load(py, &text)
    }

    /// The same policy for a deployment of another environment (`None` if not accepted).
    fn for_environment(&self, env: &str) -> Option<Self> {
        self.inner
            .for_environment(env)
            .map(|p| PyPolicy { inner: Arc::new(p) })
    }

    /// The `WWW-Authenticate` realm.
    #[getter]
    fn realm(&self) -> &str {
        self.inner.realm()
    }
    /// The environment this deployment accepts (`live`).
    #[getter]
    fn deployment_env(&self) -> &str {
        self.inner.deployment_env()
    }
    /// Accepted key kinds; the first is the one `Checker.issue` uses.
    #[getter]
    fn kinds(&self) -> Vec<String> {
        self.inner.format().kinds().to_vec()
    }
    /// Accepted environments.
    #[getter]
    fn environments(&self) -> Vec<String> {
        self.inner.format().envs().to_vec()
    }
    /// Declared scopes as `(name, description)` pairs, in catalog order.
    #[getter]
    fn scopes(&self) -> Vec<(String, String)> {
        let catalog = self.inner.catalog();
        catalog
            .scopes()
            .iter()
            .map(|s| (s.name.clone(), s.description.clone()))
            .collect()
    }
    /// Routes as `(method, path template)`, in policy order.
    #[getter]
    fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .routes()
            .routes()
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect()
    }

    /// The policy's `[oauth]` settings (the secure defaults where it says nothing): the
    /// config `OAuthServer(policy, verifier)` uses when given none.
    #[getter]
    fn oauth(&self) -> PyOAuthConfig {
        PyOAuthConfig::from_core(self.inner.oauth())
    }

    /// What deserves a look in a policy that loaded (routes of which a more specific
    /// route of another method decides some requests with other access), as
    /// `portcullis.errors.PolicyIssue`s in file order.
    #[getter]
    fn warnings<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let class = py.import("portcullis.errors")?.getattr("PolicyIssue")?;
        self.inner
            .warnings()
            .iter()
            .map(|w| class.call1((w.line, w.column, w.field.as_str(), w.message.as_str())))
            .collect()
    }

    /// The policy's OpenAPI 3.1 document as JSON text (the same policy always gives the
    /// same text): the security schemes and each route's `security`, implications
    /// expanded into alternatives, public routes `[]`. With `merge` (an OpenAPI 3.x JSON
    /// document, at most 4 MiB), that document with the schemes added and `security` set
    /// on each operation a route decides. A bad document raises `ConfigurationError` with
    /// the code `too_large`, `bad_json` or `bad_document`.
    #[pyo3(signature = (merge=None))]
    fn openapi(&self, py: Python<'_>, merge: Option<String>) -> PyResult<String> {
        let policy = self.inner.clone();
        // A merged document may be megabytes of JSON: other threads run meanwhile.
        let result = py.detach(move || match merge {
            None => Ok(policy.openapi()),
            Some(document) => policy.openapi_merged(&document),
        });
        result.map_err(|e| errors::configuration(py, &e.to_string(), e.code()))
    }

    /// Compiles a requirement expression against this policy's catalog.
    fn requirement(&self, py: Python<'_>, text: &str) -> PyResult<PyRequirement> {
        Requirement::parse(self.inner.catalog(), text)
            .map(|inner| PyRequirement {
                policy: self.inner.clone(),
                inner,
            })
            .map_err(|e| errors::requirement(py, &e))
    }

    /// The effective scopes of a list of grants (names or patterns like `claims:*`).
    fn grant(&self, grants: &Bound<'_, PyAny>) -> PyResult<PyGrant> {
        let grants = input::strings(grants, "grants")?;
        let g = self.inner.catalog().grant(&grants);
        Ok(PyGrant {
            scopes: names(&self.inner, &g.set),
            unknown: g.unknown,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Policy(realm={}, deployment_env={}, scopes={}, routes={})",
            crate::py_str(self.inner.realm()),
            crate::py_str(self.inner.deployment_env()),
            self.inner.catalog().len(),
            self.inner.routes().routes().len()
        )
    }
}

#[pymethods]
impl PyRequirement {
    /// Evaluates the requirement against granted scopes (names or patterns).
    fn evaluate(&self, grants: &Bound<'_, PyAny>) -> PyResult<PyEvaluation> {
        let grants = input::strings(grants, "grants")?;
        let evaluated = self.inner.evaluate_grants(self.policy.catalog(), &grants);
        Ok(PyEvaluation {
            allowed: evaluated.allowed(),
            missing: evaluated.missing().map(str::to_owned).collect(),
            required: evaluated.required().map(str::to_owned).collect(),
        })
    }

    /// The canonical text: alternatives joined by ` | `, names in catalog order.
    #[getter]
    fn canonical(&self) -> String {
        self.inner.canonical(self.policy.catalog())
    }

    fn __repr__(&self) -> String {
        format!("Requirement({})", crate::py_str(&self.canonical()))
    }
}

#[pymethods]
impl PyEvaluation {
    fn __bool__(&self) -> bool {
        self.allowed
    }
    fn __repr__(&self) -> String {
        format!(
            "Evaluation(allowed={}, missing={}, required={})",
            if self.allowed { "True" } else { "False" },
            crate::py_list(&self.missing),
            crate::py_list(&self.required)
        )
    }
}

#[pymethods]
impl PyGrant {
    fn __repr__(&self) -> String {
        format!(
            "Grant(scopes={}, unknown={})",
            crate::py_list(&self.scopes),
            self.unknown
        )
    }
}
