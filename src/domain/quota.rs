//! Per-owner quotas: how many images and bytes one owner may hold, how many uploads they may have
//! in flight, and how many they may start in an hour. The counts live in one usage item per owner
//! (`aws::dynamodb`), changed only by conditional writes; this module is what they mean.

use std::time::Duration;

use time::OffsetDateTime;

use super::ImageId;

/// What one owner may hold and start (`MAX_IMAGES_PER_USER`, `MAX_BYTES_PER_USER`,
/// `MAX_UPLOADS_IN_FLIGHT`, `MAX_UPLOADS_PER_HOUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaPolicy {
    /// Images held: `PENDING` and `READY` ones (a `REJECTED` image holds nothing).
    pub max_images: u64,
    /// Bytes held: each `READY` image's size, and each `PENDING` one's declared size (or the
    /// largest upload, when it declared none).
    pub max_bytes: u64,
    /// Uploads started and not yet settled, deleted or lapsed.
    pub max_in_flight: u32,
    /// Uploads started in one UTC clock hour.
    pub max_per_hour: u32,
}

impl QuotaPolicy {
    /// Images one owner may hold by default.
    pub const DEFAULT_MAX_IMAGES: u64 = 10_000;
    /// Bytes one owner may hold by default: 10 GiB.
    pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024 * 1024;
    /// Uploads in flight by default: a page asks for a URL only as it uploads, a few at a time.
    pub const DEFAULT_MAX_IN_FLIGHT: u32 = 20;
    /// Uploads an hour by default: an album of a few hundred photos.
    pub const DEFAULT_MAX_PER_HOUR: u32 = 500;
}

impl Default for QuotaPolicy {
    fn default() -> Self {
        Self {
            max_images: Self::DEFAULT_MAX_IMAGES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
            max_per_hour: Self::DEFAULT_MAX_PER_HOUR,
        }
    }
}

/// One upload in flight, as its owner's usage item holds it: the image, the bytes counted for it,
/// and when its slot lapses if the upload never arrives (its URL's expiry and the settling margin;
/// a multipart upload's row expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub image_id: ImageId,
    pub bytes: u64,
    /// Whole seconds.
    pub until: OffsetDateTime,
}

impl InFlight {
    /// The slot for `image_id`, lapsing at `until` (cut to whole seconds).
    pub fn new(image_id: ImageId, bytes: u64, until: OffsetDateTime) -> Self {
        Self {
            image_id,
            bytes,
            until: until.replace_nanosecond(0).unwrap_or(until),
        }
    }

    /// As stored in the usage item's set (and on the image's row): `{imageId} {until} {bytes}`,
    /// `until` in epoch seconds. One string, so the set's `contains` and `DELETE` find exactly
    /// this slot.
    pub fn entry(&self) -> String {
        format!(
            "{} {} {}",
            self.image_id,
            self.until.unix_timestamp(),
            self.bytes
        )
    }

    /// An entry written by [`InFlight::entry`].
    pub fn parse_entry(entry: &str) -> Option<Self> {
        let mut fields = entry.split(' ');
        let image_id = ImageId::parse(fields.next()?)?;
        let until = OffsetDateTime::from_unix_timestamp(fields.next()?.parse().ok()?).ok()?;
        let bytes = fields.next()?.parse().ok()?;
        fields.next().is_none().then_some(Self {
            image_id,
            bytes,
            until,
        })
    }

    /// Whether the slot has lapsed at `now`.
    pub fn lapsed(&self, now: OffsetDateTime) -> bool {
        self.until <= now
    }
}

/// What an image's row says it counts in its owner's usage. Rows written before quotas count
/// nothing (`None` on the row), and nothing is released for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// A `PENDING` image: its slot in flight (which holds one image and its bytes), unless the
    /// slot has lapsed and been released.
    InFlight(InFlight),
    /// A `READY` image: one image of `bytes` (its verified size).
    Stored { bytes: u64 },
}

/// An owner's usage item, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Images counted: each `READY` image's, and each slot in flight's.
    pub images: u64,
    /// Bytes counted, likewise.
    pub bytes: u64,
    pub in_flight: Vec<InFlight>,
    /// The UTC hour `started_in_hour` counts (see [`hour_of`]); `None` before the first upload.
    pub hour: Option<String>,
    pub started_in_hour: u32,
}

/// The hour an upload starts in, as the usage item names it: `2026-12-07T23` (UTC).
pub fn hour_of(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour()
    )
}

/// How long until the next UTC hour starts (at least a second).
fn until_next_hour(now: OffsetDateTime) -> Duration {
    let now = now.to_offset(time::UtcOffset::UTC);
    let into = u64::from(now.minute()) * 60 + u64::from(now.second());
    Duration::from_secs((3600 - into).max(1))
}

/// How long a refused caller is told to wait when its uploads in flight are the limit: the time
/// a small upload takes to be processed, or the earliest slot's lapse if that comes sooner.
pub const IN_FLIGHT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a new upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaRefusal {
    #[error("you have {max} images, the most one user may keep; delete some to upload more")]
    Images { max: u64 },
    #[error(
        "this upload would take your images over {max} bytes, the most one user may keep; delete some to upload more"
    )]
    Bytes { max: u64 },
    #[error("you have {max} uploads in flight, the most at once; wait for one to finish")]
    InFlight { max: u32, retry_after: Duration },
    #[error(
        "you have started {max} uploads this hour, the most in an hour; wait for the next hour"
    )]
    Hourly { max: u32, retry_after: Duration },
}

impl QuotaRefusal {
    /// How long to wait before asking again, when waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Images { .. } | Self::Bytes { .. } => None,
            Self::InFlight { retry_after, .. } | Self::Hourly { retry_after, .. } => {
                Some(*retry_after)
            }
        }
    }
}

/// An owner's usage as it stands at one moment: lapsed slots no longer count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageNow {
    pub images: u64,
    pub bytes: u64,
    pub in_flight: u32,
    pub started_this_hour: u32,
}

impl Usage {
    /// The slots that have lapsed at `now`: counted until someone releases them.
    pub fn lapsed(&self, now: OffsetDateTime) -> impl Iterator<Item = &InFlight> {
        self.in_flight.iter().filter(move |slot| slot.lapsed(now))
    }

    /// The usage at `now`, lapsed slots released.
    pub fn at(&self, now: OffsetDateTime) -> UsageNow {
        let (mut images, mut bytes, mut in_flight) = (self.images, self.bytes, 0u32);
        for slot in &self.in_flight {
            if slot.lapsed(now) {
                images = images.saturating_sub(1);
                bytes = bytes.saturating_sub(slot.bytes);
            } else {
                in_flight += 1;
            }
        }
        let started_this_hour = if self.hour.as_deref() == Some(hour_of(now).as_str()) {
            self.started_in_hour
        } else {
            0
        };
        UsageNow {
            images,
            bytes,
            in_flight,
            started_this_hour,
        }
    }

    /// How long until the earliest slot in flight lapses, between 1 s and
    /// [`IN_FLIGHT_RETRY_AFTER`]: small uploads settle within seconds, and a slot that never
    /// settles frees its place when it lapses.
    fn earliest_lapse(&self, now: OffsetDateTime) -> Duration {
        self.in_flight
            .iter()
            .filter(|slot| !slot.lapsed(now))
            .map(|slot| slot.until - now)
            .min()
            .and_then(|left| Duration::try_from(left).ok())
            .unwrap_or(IN_FLIGHT_RETRY_AFTER)
            .clamp(Duration::from_secs(1), IN_FLIGHT_RETRY_AFTER)
    }

    /// The first limit a new upload of `bytes` would break at `now`, lapsed slots released; the
    /// limits waiting cannot help with first.
    pub fn refusal(
        &self,
        bytes: u64,
        policy: &QuotaPolicy,
        now: OffsetDateTime,
    ) -> Option<QuotaRefusal> {
        let usage = self.at(now);
        let (held_images, held_bytes) = self
            .in_flight
            .iter()
            .filter(|slot| !slot.lapsed(now))
            .fold((0u64, 0u64), |(n, b), slot| (n + 1, b + slot.bytes));
        let waiting = QuotaRefusal::InFlight {
            max: policy.max_in_flight,
            retry_after: self.earliest_lapse(now),
        };
        // Over images or bytes only because of uploads in flight: those settle or lapse, so
        // waiting helps after all.
        if usage.images >= policy.max_images {
            return Some(if usage.images - held_images < policy.max_images {
                waiting
            } else {
                QuotaRefusal::Images {
                    max: policy.max_images,
                }
            });
        }
        if usage.bytes.saturating_add(bytes) > policy.max_bytes {
            return Some(
                if (usage.bytes - held_bytes).saturating_add(bytes) <= policy.max_bytes {
                    waiting
                } else {
                    QuotaRefusal::Bytes {
                        max: policy.max_bytes,
                    }
                },
            );
        }
        if usage.in_flight >= policy.max_in_flight {
            return Some(waiting);
        }
        if usage.started_this_hour >= policy.max_per_hour {
            return Some(QuotaRefusal::Hourly {
                max: policy.max_per_hour,
                retry_after: until_next_hour(now),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-07 23:40:15 UTC);

    fn slot(bytes: u64, seconds_left: i64) -> InFlight {
        InFlight::new(
            ImageId::new_random(),
            bytes,
            NOW + time::Duration::seconds(seconds_left),
        )
    }

    fn policy() -> QuotaPolicy {
        QuotaPolicy {
            max_images: 3,
            max_bytes: 1000,
            max_in_flight: 2,
            max_per_hour: 4,
        }
    }

    #[test]
    fn an_entry_round_trips_and_nothing_else_parses() {
        let slot = slot(1234, 300);
        assert_eq!(InFlight::parse_entry(&slot.entry()), Some(slot.clone()));
        let entry = slot.entry();
        for bad in [
            "",
            "x 1 2",
            &format!("{} 1", slot.image_id),
            &format!("{} 1 2 3", slot.image_id),
            &format!("{} one 2", slot.image_id),
            &format!("{} 1 -2", slot.image_id),
            &entry.replace(' ', "  "),
        ] {
            assert_eq!(InFlight::parse_entry(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hours_are_utc_clock_hours() {
        assert_eq!(hour_of(NOW), "2026-12-07T23");
        assert_eq!(
            hour_of(datetime!(2026-12-08 00:30 +01:00)),
            "2026-12-07T23",
            "an offset is read as UTC"
        );
        assert_eq!(until_next_hour(NOW), Duration::from_secs(19 * 60 + 45));
    }

    #[test]
    fn each_limit_refuses_in_order_permanent_ones_first() {
        let policy = policy();
        let hour = Some(hour_of(NOW));
        let usage = |images, bytes, in_flight: Vec<InFlight>, started| Usage {
            images,
            bytes,
            in_flight,
            hour: hour.clone(),
            started_in_hour: started,
        };
        assert_eq!(usage(0, 0, vec![], 0).refusal(1000, &policy, NOW), None);
        assert_eq!(
            usage(3, 0, vec![], 0).refusal(1, &policy, NOW),
            Some(QuotaRefusal::Images { max: 3 })
        );
        assert_eq!(
            usage(1, 900, vec![], 0).refusal(101, &policy, NOW),
            Some(QuotaRefusal::Bytes { max: 1000 })
        );
        assert_eq!(usage(1, 900, vec![], 0).refusal(100, &policy, NOW), None);
        assert_eq!(
            usage(2, 2, vec![slot(1, 3), slot(1, 60)], 0).refusal(1, &policy, NOW),
            Some(QuotaRefusal::InFlight {
                max: 2,
                retry_after: Duration::from_secs(3)
            })
        );
        assert_eq!(
            usage(2, 2, vec![slot(1, 600), slot(1, 600)], 0).refusal(1, &policy, NOW),
            Some(QuotaRefusal::InFlight {
                max: 2,
                retry_after: IN_FLIGHT_RETRY_AFTER
            })
        );
        assert_eq!(
            usage(0, 0, vec![], 4).refusal(1, &policy, NOW),
            Some(QuotaRefusal::Hourly {
                max: 4,
                retry_after: Duration::from_secs(19 * 60 + 45)
            })
        );
        // Full on every count: the one waiting cannot fix is named.
        assert_eq!(
            usage(5, 1000, vec![slot(1, 60), slot(1, 60)], 4).refusal(1, &policy, NOW),
            Some(QuotaRefusal::Images { max: 3 })
        );
        // At the image or byte limit only because of uploads in flight: waiting helps.
        let in_flight = QuotaRefusal::InFlight {
            max: 2,
            retry_after: IN_FLIGHT_RETRY_AFTER,
        };
        assert_eq!(
            usage(3, 3, vec![slot(1, 600)], 0).refusal(1, &policy, NOW),
            Some(in_flight.clone())
        );
        assert_eq!(
            usage(2, 950, vec![slot(100, 600)], 0).refusal(100, &policy, NOW),
            Some(in_flight)
        );
        assert_eq!(
            usage(2, 950, vec![slot(10, 600)], 0).refusal(100, &policy, NOW),
            Some(QuotaRefusal::Bytes { max: 1000 }),
            "not enough even once it settles"
        );
        assert_eq!(
            QuotaRefusal::Images { max: 3 }.retry_after(),
            None,
            "waiting does not help"
        );
    }

    #[test]
    fn lapsed_slots_and_past_hours_no_longer_count() {
        let policy = policy();
        let usage = Usage {
            images: 3,
            bytes: 1000,
            in_flight: vec![slot(400, 0), slot(600, -10)],
            hour: Some("2026-12-07T22".into()),
            started_in_hour: 4,
        };
        assert_eq!(
            usage.at(NOW),
            UsageNow {
                images: 1,
                bytes: 0,
                in_flight: 0,
                started_this_hour: 0
            }
        );
        assert_eq!(usage.lapsed(NOW).count(), 2);
        assert_eq!(usage.refusal(1000, &policy, NOW), None);
    }
}
