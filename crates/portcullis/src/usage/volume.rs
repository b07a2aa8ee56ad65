//! The volume rule, evaluated as counts are drained: an hour's uses far above the key's
//! trailing hourly baseline.
//!
//! The baseline is an exponential moving average over closed hours with weight
//! `1 / baseline_hours` (hours without a use count as zero), so it follows the last day or
//! so of traffic with one number per key. The rule waits until a key has `baseline_hours`
//! closed hours of history, fires at most once per hour, and only at `min_count` uses or
//! more, so that a quiet key going from 2 to 30 uses stays quiet.

use super::UsageConfig;
use std::collections::HashMap;

use crate::format::KeyId;

/// What the rule knows of one key.
#[derive(Clone, Copy, Debug)]
struct Track {
    /// The open hour and its count so far.
    hour: u64,
    count: u64,
    fired: bool,
    baseline: f64,
    /// Closed hours folded into the baseline (capped).
    history: u32,
}

/// A volume alarm: the hour, its count, the baseline it exceeded.
pub(super) struct Spike {
    pub(super) hour: u64,
    pub(super) count: u64,
    pub(super) baseline: f64,
}

/// Every key's track; the drain owns it.
#[derive(Default)]
pub(super) struct Volume {
    tracks: HashMap<KeyId, Track>,
}

impl Volume {
    /// Adds `count` uses of `id` in `hour`; a spike if the rule fires.
    pub(super) fn add(
        &mut self,
        config: &UsageConfig,
        id: KeyId,
        hour: u64,
        count: u64,
    ) -> Option<Spike> {
        let track = self.tracks.entry(id).or_insert(Track {
            hour,
            count: 0,
            fired: false,
            baseline: 0.0,
            history: 0,
        });
        if hour > track.hour {
            close(track, config, hour);
        } else if hour < track.hour {
            return None; // a late count of a closed hour: too late to alarm on
        }
        track.count += count;
        let threshold = config.volume_factor * track.baseline.max(1.0);
        let ripe = track.history >= config.baseline_hours;
        let over = track.count >= config.volume_min_count && track.count as f64 >= threshold;
        if ripe && !track.fired && over {
            track.fired = true;
            return Some(Spike {
                hour,
                count: track.count,
                baseline: track.baseline,
            });
        }
        None
    }

    /// Forgets an evicted key.
    pub(super) fn forget(&mut self, id: &KeyId) {
        self.tracks.remove(id);
    }
}

/// Folds the open hour and the empty hours up to `hour` into the baseline.
fn close(track: &mut Track, config: &UsageConfig, hour: u64) {
    let weight = 1.0 / f64::from(config.baseline_hours);
    let gap = hour - track.hour;
    let mut sample = track.count as f64;
    // Past a few baselines' worth of empty hours the average is as good as zero.
    for _ in 0..gap.min(u64::from(config.baseline_hours) * 8) {
        track.baseline += (sample - track.baseline) * weight;
        sample = 0.0;
    }
    track.history = track
        .history
        .saturating_add(u32::try_from(gap).unwrap_or(u32::MAX));
    track.hour = hour;
    track.count = 0;
    track.fired = false;
}
