//! A fixed-size bitset of scopes: `Copy`, no allocation, a few word operations per check.

/// Most scopes one catalog can hold.
pub const MAX_SCOPES: usize = 256;
const WORDS: usize = MAX_SCOPES / 64;

/// A set of scopes of one catalog, as bits indexed by the catalog's scope numbers.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet([u64; WORDS]);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet([0; WORDS]);

    /// Adds scope number `index` (ignored when `index >= MAX_SCOPES`).
    #[inline]
    pub fn insert(&mut self, index: usize) {
        if index < MAX_SCOPES {
            self.0[index / 64] |= 1 << (index % 64);
        }
    }

    /// Whether scope number `index` is in the set.
    #[inline]
    pub fn contains(&self, index: usize) -> bool {
        index < MAX_SCOPES && self.0[index / 64] & (1 << (index % 64)) != 0
    }

    /// The union of two sets.
    #[inline]
    pub fn union(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }

    /// The scopes of `self` that are not in `other`.
    #[inline]
    pub fn difference(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(std::array::from_fn(|i| self.0[i] & !other.0[i]))
    }

    /// Whether every scope of `self` is in `other`.
    #[inline]
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0, |acc, (a, b)| acc | (a & !b))
            == 0
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// Number of scopes in the set.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Scope numbers in ascending order (one step per member, not per possible scope).
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

impl std::fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_operations() {
        let mut a = ScopeSet::EMPTY;
        a.insert(0);
        a.insert(255);
        a.insert(256);
        assert_eq!(a.len(), 2);
        assert!(a.contains(255) && !a.contains(256));
        let mut b = a;
        b.insert(70);
        assert!(a.is_subset(&b) && !b.is_subset(&a));
        assert_eq!(b.difference(a).iter().collect::<Vec<_>>(), vec![70]);
        assert!(ScopeSet::EMPTY.is_subset(&a) && ScopeSet::EMPTY.is_empty());
    }

    #[test]
    fn iter_gives_every_member_in_order() {
        let members = [0, 1, 63, 64, 65, 127, 128, 200, 254, 255];
        let mut set = ScopeSet::EMPTY;
        for &m in members.iter().rev() {
            set.insert(m);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), members);
        let all = (0..MAX_SCOPES).fold(ScopeSet::EMPTY, |mut s, i| {
            s.insert(i);
            s
        });
        assert!(all.iter().eq(0..MAX_SCOPES));
        assert_eq!(ScopeSet::EMPTY.iter().count(), 0);
    }
}
