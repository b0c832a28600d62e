//! Rate groups: which clients of a stream share an encoder. A stream's
//! frames are encoded once per codec and group, and each group's bitrate
//! stays within the share of its slowest member's link, so that one slow
//! client no longer sets the bitrate of all. Clients whose measured links
//! are within a factor of two share a group; clients whose links were
//! never measured (loopback, a fast LAN: the queue never backed up) share
//! group 0, which the link does not cap.

/// The group of clients whose link is not measured.
pub const UNMEASURED: u8 = 0;
/// Group 1 holds links below twice this (bits/s); each next group twice
/// the links of the one before.
const GROUP_1_BPS: u64 = 500_000;
/// The highest group: links from 500 kbit/s × 2^14 (8 Gbit/s) up.
const TOP_GROUP: u8 = 15;
/// A client stays in its group while its link is within this factor of
/// the group's range, so that a link at a boundary does not move it to
/// and fro (each move costs a keyframe on the codecs that have them).
const STAY_MARGIN: f64 = 1.25;

/// The group of a client whose link was measured at `bandwidth_bps` (0:
/// not measured), given the group it is in (`current`).
pub fn group_of(bandwidth_bps: u64, current: Option<u8>) -> u8 {
    if bandwidth_bps == 0 {
        return UNMEASURED;
    }
    if let Some(group) = current.filter(|&g| g != UNMEASURED) {
        let (low, high) = range(group);
        let bw = bandwidth_bps as f64;
        if bw >= low as f64 / STAY_MARGIN && high.is_none_or(|h| bw < h as f64 * STAY_MARGIN) {
            return group;
        }
    }
    let mut group = 1;
    while group < TOP_GROUP && bandwidth_bps >= range(group).1.unwrap_or(u64::MAX) {
        group += 1;
    }
    group
}

/// The links a measured group holds: from `low` (bits/s) to below `high`
/// (`None`: no bound).
fn range(group: u8) -> (u64, Option<u64>) {
    let low = if group <= 1 {
        0
    } else {
        GROUP_1_BPS << (group - 1)
    };
    let high = (group < TOP_GROUP).then(|| GROUP_1_BPS << group);
    (low, high)
}

/// The slowest measured link of each group (bits/s), from every client's
/// group and link: what caps each group's bitrate.
#[derive(Debug, Default)]
pub struct GroupLinks(Vec<(u8, u64)>);

impl GroupLinks {
    /// A client of `group` has a link of `bandwidth_bps` (0: not measured).
    pub fn add(&mut self, group: u8, bandwidth_bps: u64) {
        if bandwidth_bps == 0 {
            return;
        }
        match self.0.iter_mut().find(|(g, _)| *g == group) {
            Some((_, slowest)) => *slowest = (*slowest).min(bandwidth_bps),
            None => self.0.push((group, bandwidth_bps)),
        }
    }

    /// The slowest link in `group`, if any was measured.
    pub fn slowest(&self, group: u8) -> Option<u64> {
        self.0.iter().find(|(g, _)| *g == group).map(|(_, b)| *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_within_a_factor_of_two_share_a_group() {
        assert_eq!(group_of(0, None), UNMEASURED);
        assert_eq!(group_of(0, Some(5)), UNMEASURED);
        assert_eq!(group_of(100_000, None), 1);
        assert_eq!(group_of(999_999, None), 1);
        assert_eq!(group_of(1_000_000, None), 2);
        // 2, 10 and 50 Mbit/s: three groups.
        let (two, ten, fifty) = (
            group_of(2_000_000, None),
            group_of(10_000_000, None),
            group_of(50_000_000, None),
        );
        assert!(two < ten && ten < fifty, "{two} {ten} {fifty}");
        assert_eq!(group_of(9_000_000, None), ten);
        assert_eq!(group_of(u64::MAX, None), TOP_GROUP);
        assert_eq!(group_of(10_000_000_000, None), TOP_GROUP);
    }

    #[test]
    fn a_link_at_a_boundary_stays_in_its_group() {
        // 8 Mbit/s opens group 5 (8 to 16 Mbit/s).
        let g = group_of(8_500_000, None);
        assert_eq!(range(g), (8_000_000, Some(16_000_000)));
        // Just below the boundary: still there, until a quarter below.
        assert_eq!(group_of(7_900_000, Some(g)), g);
        assert_eq!(group_of(6_500_000, Some(g)), g);
        assert_eq!(group_of(6_000_000, Some(g)), g - 1);
        // Above: a quarter over the top moves it.
        assert_eq!(group_of(19_000_000, Some(g)), g);
        assert_eq!(group_of(21_000_000, Some(g)), g + 1);
        // Once measured, the unmeasured group is no anchor.
        assert_eq!(group_of(8_500_000, Some(UNMEASURED)), g);
    }

    #[test]
    fn each_group_is_capped_by_its_slowest_link() {
        let mut links = GroupLinks::default();
        links.add(3, 3_000_000);
        links.add(3, 2_500_000);
        links.add(6, 20_000_000);
        links.add(UNMEASURED, 0);
        assert_eq!(links.slowest(3), Some(2_500_000));
        assert_eq!(links.slowest(6), Some(20_000_000));
        assert_eq!(links.slowest(UNMEASURED), None);
        assert_eq!(links.slowest(4), None);
    }
}
