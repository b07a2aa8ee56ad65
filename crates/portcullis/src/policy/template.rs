//! Path templates and the segment trie that matches request paths against them.
//!
//! A template is `/`-separated segments, each one of: a literal (`claims`), a parameter
//! `{name}` (any one non-empty segment), or, last only, a catch-all `{*name}` (the rest of
//! the path, at least one character). Parameters are whole segments. Precedence at every
//! segment: literal, then parameter, then catch-all, backtracking when a branch fails
//! further on, so the most specific template wins whatever the declaration order.
//!
//! Matching walks the path once per tried branch with no allocation; the work is bounded
//! by the templates' depth (backtracking happens only where a literal and a parameter
//! share a parent), never by the request's path length.

use super::segment::{Head, split};
use std::collections::HashMap;

/// Literal children up to this many are found by a scan; more get a hash index.
const SCAN_LIMIT: usize = 8;

/// One segment of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment<'t> {
    Literal(&'t str),
    Param,
    CatchAll,
}

/// Splits a template into segments; the error says what is wrong.
fn segments(template: &str) -> Result<Vec<Segment<'_>>, String> {
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| "must start with '/'".to_owned())?;
    let parts: Vec<&str> = rest.split('/').collect();
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| segment(part, i == last))
        .collect()
}

fn segment(part: &str, last: bool) -> Result<Segment<'_>, String> {
    let Some(inner) = part.strip_prefix('{') else {
        return if part.contains(['{', '}']) {
            Err(format!(
                "segment {part:?}: a parameter must be a whole segment, like {{id}}"
            ))
        } else {
            Ok(Segment::Literal(part))
        };
    };
    let name = inner
        .strip_suffix('}')
        .ok_or_else(|| format!("segment {part:?}: unclosed '{{'"))?;
    let (catch_all, name) = match name.strip_prefix('*') {
        Some(n) => (true, n),
        None => (false, name),
    };
    if name.is_empty() || name.contains(['{', '}', '*']) {
        return Err(format!(
            "segment {part:?}: a parameter needs a plain name, like {{id}}"
        ));
    }
    match (catch_all, last) {
        (true, false) => Err(format!(
            "segment {part:?}: a catch-all must be the last segment"
        )),
        (true, true) => Ok(Segment::CatchAll),
        (false, _) => Ok(Segment::Param),
    }
}

/// A trie of templates, one level per segment; values are route indexes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trie {
    /// Literal next segments, in insertion order.
    literals: Vec<(Box<str>, Trie)>,
    /// The heads of `literals`, in the same order: a scan compares these first.
    heads: Vec<Head>,
    /// For nodes with more than [`SCAN_LIMIT`] literals: literal → position in `literals`
    /// (a scan or a binary search over strings on the heap costs a cache miss per step).
    index: Option<HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>>,
    /// `{name}`: any one non-empty segment.
    param: Option<Box<Trie>>,
    /// `{*name}` here: the route index.
    catch_all: Option<usize>,
    /// The route whose template ends here.
    route: Option<usize>,
}

impl Trie {
    /// Adds `template` for route `index`. A template of the same shape as one already
    /// added (same literals, parameters in the same places) is an error naming the index
    /// of the other.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, template: &str, index: usize) -> Result<(), InsertError> {
        let slot = self.slot(template).map_err(InsertError::Invalid)?;
        match slot {
            Some(existing) => Err(InsertError::Conflict(*existing)),
            None => {
                *slot = Some(index);
                Ok(())
            }
        }
    }

    /// The value slot of `template`, created empty if no template of its shape is in the
    /// trie yet; templates of the same shape share it. The error says what is wrong with
    /// the template.
    pub(crate) fn slot(&mut self, template: &str) -> Result<&mut Option<usize>, String> {
        let segments = segments(template)?;
        let mut node = self;
        let last = segments.len() - 1;
        for (i, seg) in segments.into_iter().enumerate() {
            match seg {
                Segment::CatchAll => return Ok(&mut node.catch_all),
                Segment::Param => node = node.param.get_or_insert_with(Box::default),
                Segment::Literal(text) => node = node.literal_mut(text),
            }
            if i == last {
                return Ok(&mut node.route);
            }
        }
        Err("is empty".to_owned())
    }

    fn literal_mut(&mut self, text: &str) -> &mut Trie {
        let head = Head::of(text.as_bytes());
        let at = match self.position(text.as_bytes(), head) {
            Some(at) => at,
            None => {
                self.literals.push((text.into(), Trie::default()));
                self.heads.push(head);
                let at = self.literals.len() - 1;
                if let Some(index) = &mut self.index {
                    index.insert(text.as_bytes().into(), at);
                } else if self.literals.len() > SCAN_LIMIT {
                    let entries = self.literals.iter().enumerate();
                    self.index = Some(
                        entries
                            .map(|(i, (k, _))| (k.as_bytes().into(), i))
                            .collect(),
                    );
                }
                at
            }
        };
        &mut self.literals[at].1
    }

    /// Where the literal `segment` (whose head is `head`) is in `literals`.
    #[inline(always)]
    fn position(&self, segment: &[u8], head: Head) -> Option<usize> {
        if let Some(index) = &self.index {
            return find_indexed(index, segment);
        }
        for (at, candidate) in self.heads.iter().enumerate() {
            if head.may_match(*candidate) && (head.is_whole() || self.literal_is(at, segment)) {
                return Some(at);
            }
        }
        None
    }

    /// Whether literal number `at` is `segment` (for segments longer than a head).
    #[inline(never)]
    fn literal_is(&self, at: usize, segment: &[u8]) -> bool {
        self.literals
            .get(at)
            .is_some_and(|(k, _)| k.as_bytes() == segment)
    }

    /// The value of the template matching `path` (which starts with `/`), if any.
    #[cfg(test)]
    pub(crate) fn find(&self, path: &str) -> Option<usize> {
        self.find_by(path.as_bytes(), &Some)
    }

    /// The most specific template matching `path` (which starts with `/`) whose value
    /// `pick` accepts: `pick` maps a value to the answer, or to `None` to pass over it as
    /// if no template ended there.
    #[inline]
    pub(crate) fn find_by<F: Fn(usize) -> Option<usize>>(
        &self,
        path: &[u8],
        pick: &F,
    ) -> Option<usize> {
        self.find_rest(path.strip_prefix(b"/")?, pick)
    }

    /// Matches `rest`, the path after a `/` (possibly empty): a literal child first, then
    /// the parameter, then the catch-all. The walk loops down the trie and recurses only
    /// at nodes where a later alternative remains to try if the earlier one fails deeper
    /// (backtracking), so most lookups make no call at all.
    fn find_rest<F: Fn(usize) -> Option<usize>>(&self, mut rest: &[u8], pick: &F) -> Option<usize> {
        let mut node = self;
        loop {
            let (segment, head, tail) = split(rest);
            let catch_all = node.catch_all.filter(|_| !rest.is_empty()).and_then(pick);
            let param = node.param.as_deref().filter(|_| !segment.is_empty());
            let mut next = node.literal(segment, head);
            if let Some(literal) = next
                && (param.is_some() || catch_all.is_some())
            {
                if let Some(found) = literal.finish(tail, pick) {
                    return Some(found);
                }
                next = None;
            }
            if next.is_none()
                && let Some(param) = param
            {
                if catch_all.is_none() {
                    next = Some(param);
                } else if let Some(found) = param.finish(tail, pick) {
                    return Some(found);
                }
            }
            match (next, tail) {
                (Some(child), None) => return child.route.and_then(pick),
                (Some(child), Some(tail)) => {
                    node = child;
                    rest = tail;
                }
                (None, _) => return catch_all,
            }
        }
    }

    /// Matches what is left after this node's segment: nothing (`None`) ends here.
    fn finish<F: Fn(usize) -> Option<usize>>(
        &self,
        tail: Option<&[u8]>,
        pick: &F,
    ) -> Option<usize> {
        match tail {
            None => self.route.and_then(pick),
            Some(tail) => self.find_rest(tail, pick),
        }
    }
}

impl Trie {
    /// The child for a literal segment: a scan with no library call for the few children
    /// most nodes have, a hash lookup for wide nodes.
    #[inline]
    fn literal(&self, segment: &[u8], head: Head) -> Option<&Trie> {
        self.position(segment, head).map(|at| &self.literals[at].1)
    }
}

/// The position of `segment` in a wide node's index. Kept out of line: inlined, the
/// hashing's register and stack use taxed the scan that nearly every node takes.
#[inline(never)]
fn find_indexed(
    index: &HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    segment: &[u8],
) -> Option<usize> {
    index.get(segment).copied()
}

/// Why a template was not added.
#[cfg(test)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// The template is malformed (the text says how).
    Invalid(String),
    /// A template of the same shape holds this route index.
    Conflict(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(templates: &[&str]) -> Trie {
        let mut t = Trie::default();
        for (i, p) in templates.iter().enumerate() {
            t.insert(p, i).expect(p);
        }
        t
    }

    #[test]
    fn literals_beat_parameters_beat_catch_alls_with_backtracking() {
        let t = trie(&[
            "/v1/claims/{id}",
            "/v1/claims/export",
            "/v1/{kind}/{id}/orders",
            "/files/{*path}",
            "/files/readme",
            "/",
            "/v1/claims/{id}/notes/{note}",
        ]);
        assert_eq!(t.find("/v1/claims/42"), Some(0));
        assert_eq!(t.find("/v1/claims/export"), Some(1));
        // The literal `claims` leads nowhere for this path; the parameter branch matches.
        assert_eq!(t.find("/v1/claims/42/orders"), Some(2));
        assert_eq!(t.find("/files/a/b/c"), Some(3));
        assert_eq!(t.find("/files/readme"), Some(4));
        assert_eq!(t.find("/"), Some(5));
        assert_eq!(t.find("/v1/claims/7/notes/9"), Some(6));
    }

    #[test]
    fn literals_longer_than_a_head_word_are_compared_whole() {
        // Same length and same first 8 bytes: only the full comparison tells them apart.
        let t = trie(&[
            "/v1/invoices-archive",
            "/v1/invoices-archivf",
            "/v1/{other}",
        ]);
        assert_eq!(t.find("/v1/invoices-archive"), Some(0));
        assert_eq!(t.find("/v1/invoices-archivf"), Some(1));
        assert_eq!(t.find("/v1/invoices-archivg"), Some(2));
        assert_eq!(t.find("/v1/invoices-archiv"), Some(2));
        assert_eq!(t.find("/v1/invoices"), Some(2));
    }

    #[test]
    fn near_misses_do_not_match() {
        let t = trie(&["/v1/claims/{id}", "/files/{*path}", "/v1/me"]);
        for path in [
            "/v1/claims/42/",
            "/v1/claims/",
            "/v1/claims",
            "/v1/claims//",
            "//v1/claims/42",
            "v1/claims/42",
            "",
            "/files/",
            "/files",
            "/v1/me/",
            "/V1/me",
            "/v1/me?x",
        ] {
            assert_eq!(t.find(path), None, "{path:?}");
        }
    }

    #[test]
    fn same_shapes_conflict_and_bad_templates_are_refused() {
        let mut t = trie(&["/a/{id}", "/b/{*rest}"]);
        assert_eq!(t.insert("/a/{other}", 9), Err(InsertError::Conflict(0)));
        assert_eq!(t.insert("/b/{*all}", 9), Err(InsertError::Conflict(1)));
        assert!(t.insert("/a/{id}/x", 9).is_ok());
        for bad in [
            "a",
            "/c/{",
            "/c/{}",
            "/c/x{id}",
            "/c/{id}x",
            "/c/{*}",
            "/{*a}/b",
            "/c/{a{b}}",
            "/c/}",
        ] {
            assert!(
                matches!(t.insert(bad, 9), Err(InsertError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    /// The naive meaning of a template, segment by segment.
    fn naive_match(template: &str, path: &str) -> bool {
        let (Some(t), Some(p)) = (template.strip_prefix('/'), path.strip_prefix('/')) else {
            return false;
        };
        let (t, p): (Vec<&str>, Vec<&str>) = (t.split('/').collect(), p.split('/').collect());
        for (i, seg) in t.iter().enumerate() {
            if seg.starts_with("{*") {
                return p.len() > i && !p[i..].join("/").is_empty();
            }
            let Some(part) = p.get(i) else { return false };
            let ok = if seg.starts_with('{') {
                !part.is_empty()
            } else {
                seg == part
            };
            if !ok {
                return false;
            }
        }
        t.len() == p.len()
    }

    proptest::proptest! {
        /// Whatever the templates and the path, the trie answers a route whose template
        /// matches the path, and answers one whenever some template does.
        #[test]
        fn the_trie_agrees_with_the_naive_meaning(
            templates in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", "b", "", "{x}", "{*r}"]), 1..4), 1..8),
            path in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "", "c"]), 1..5),
        ) {
            let mut t = Trie::default();
            let mut added = Vec::new();
            for segs in &templates {
                let template = format!("/{}", segs.join("/"));
                if t.insert(&template, added.len()).is_ok() {
                    added.push(template);
                }
            }
            let path = format!("/{}", path.join("/"));
            let matching: Vec<usize> = (0..added.len())
                .filter(|&i| naive_match(&added[i], &path))
                .collect();
            match t.find(&path) {
                Some(i) => proptest::prop_assert!(matching.contains(&i), "{path} -> {}", added[i]),
                None => proptest::prop_assert!(matching.is_empty(), "{path} missed {matching:?}"),
            }
        }
    }

    #[test]
    fn wide_nodes_find_every_literal_through_their_index() {
        let mut templates: Vec<String> = (0..50).map(|i| format!("/v1/r{i}/{{id}}")).collect();
        templates.push("/v1/{kind}/{id}/x".to_owned());
        let refs: Vec<&str> = templates.iter().map(String::as_str).collect();
        let t = trie(&refs);
        for i in 0..50 {
            assert_eq!(t.find(&format!("/v1/r{i}/7")), Some(i));
            assert_eq!(t.find(&format!("/v1/r{i}/7/x")), Some(50));
        }
        assert_eq!(t.find("/v1/r50/7"), None);
        assert_eq!(t.find("/v1/r50/7/x"), Some(50));
        assert_eq!(t.find("/v1/r1"), None);
    }

    #[test]
    fn deep_and_long_paths_are_cheap_to_refuse() {
        let t = trie(&["/a/{x}", "/a/b"]);
        let long = "/a/".to_owned() + &"b/".repeat(100_000);
        assert_eq!(t.find(&long), None);
        assert_eq!(t.find(&"/".repeat(100_000)), None);
    }
}
