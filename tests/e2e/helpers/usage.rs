//! What an owner's usage item must say, read from their rows: the check `quota.rs` makes of one
//! owner and the load test (`load.rs`) makes of every simulated user.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use image_upload::domain::InFlight;

type Item = HashMap<String, AttributeValue>;

/// What an owner's rows hold in their usage, and the usage item's slots that no PENDING row
/// holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Images and bytes the rows hold: each READY row's, and each PENDING row's whose slot the
    /// item has.
    pub images: i64,
    pub bytes: i64,
    /// The item's slots a PENDING row holds.
    pub in_flight: i64,
    /// The item's slots no PENDING row holds.
    pub orphan_slots: Vec<InFlight>,
}

/// Whether the usage item counts exactly what the rows hold: each READY row its `quotaBytes`
/// (its verified size), each PENDING row whose slot the item still has that slot's bytes, and no
/// slot without its PENDING row.
pub fn audit_usage(rows: &[Item], usage: &Item) -> Result<(), String> {
    let held = held_by(rows, usage)?;
    if !held.orphan_slots.is_empty() {
        let orphans: Vec<String> = held.orphan_slots.iter().map(InFlight::entry).collect();
        return Err(format!("slots without a PENDING row: {orphans:?}"));
    }
    let counted = (number(usage, "images"), number(usage, "bytes"));
    if counted != (held.images, held.bytes) {
        return Err(format!(
            "the usage item counts {counted:?}, the rows hold {:?}",
            (held.images, held.bytes)
        ));
    }
    Ok(())
}

/// What `rows` (one owner's) hold in `usage`, their owner's usage item.
///
/// # Errors
/// A row that counts what it may not: a READY row whose count is not its size, a REJECTED row
/// that still counts, a PENDING row without a slot, a slot that does not parse.
pub fn held_by(rows: &[Item], usage: &Item) -> Result<Held, String> {
    let slots = slots(usage);
    let (mut images, mut bytes, mut held) = (0i64, 0i64, HashSet::new());
    for row in rows {
        match s(row, "status").as_str() {
            "READY" => {
                let counted = number(row, "quotaBytes");
                if counted != number(row, "sizeBytes") {
                    return Err(format!(
                        "{} counts {counted} bytes, not its size",
                        s(row, "imageId")
                    ));
                }
                images += 1;
                bytes += counted;
            }
            "PENDING" => {
                let Some(slot) = row.get("quotaSlot").and_then(|v| v.as_s().ok()) else {
                    return Err(format!("a PENDING row without its slot: {row:?}"));
                };
                if slots.contains(slot) {
                    images += 1;
                    bytes += i64::try_from(parse_slot(slot)?.bytes).unwrap();
                    held.insert(slot.clone());
                }
            }
            _ => {
                if row.contains_key("quotaSlot") || row.contains_key("quotaBytes") {
                    return Err(format!("a REJECTED row still counts: {row:?}"));
                }
            }
        }
    }
    let mut orphan_slots = slots
        .difference(&held)
        .map(|slot| parse_slot(slot))
        .collect::<Result<Vec<_>, _>>()?;
    orphan_slots.sort_by_key(InFlight::entry);
    Ok(Held {
        images,
        bytes,
        in_flight: i64::try_from(held.len()).unwrap(),
        orphan_slots,
    })
}

fn parse_slot(slot: &str) -> Result<InFlight, String> {
    InFlight::parse_entry(slot).ok_or_else(|| format!("a malformed slot: {slot:?}"))
}

/// The usage item's slots in flight.
pub fn slots(usage: &Item) -> HashSet<String> {
    usage
        .get("inFlight")
        .map(|v| v.as_ss().unwrap().iter().cloned().collect())
        .unwrap_or_default()
}

fn s(item: &Item, name: &str) -> String {
    item[name].as_s().unwrap().clone()
}

/// A number attribute of `item`; 0 when it has none.
pub fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
}
