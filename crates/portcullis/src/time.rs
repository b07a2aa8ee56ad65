//! Time as an explicit input: seconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z (UTC).
///
/// portcullis never reads the clock itself: every call that depends on time takes a
/// `Timestamp`, so hosts control the clock and tests are deterministic.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time from the system clock. A clock before 1970 reads as 0.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// This time plus `secs` seconds, saturating at the maximum.
    pub const fn plus(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Seconds from `earlier` to `self`, or 0 when `earlier` is later.
    pub const fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Seconds in one day.
pub const DAY: u64 = 86_400;
