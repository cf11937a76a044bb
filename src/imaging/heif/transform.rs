//! HEIF's transformative properties, applied in the order `ipma` lists them, reduced to what the
//! pipeline applies: one crop in stored coordinates, then one of the eight orientations.
//!
//! Any sequence of quarter turns, mirrors and crops is such a pair: a crop after a rotation is a
//! crop of the stored image at the rotated rectangle. `irot` turns anticlockwise; `imir` mode 0
//! swaps top and bottom and mode 1 left and right (ISO/IEC 23008-12:2022 §6.5.12, as libheif
//! and libavif apply it).

use image::metadata::Orientation;

use super::error::HeifError;
use super::image::Transform;
use super::meta::Clap;

/// A rectangle in stored pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

const ALL: [Orientation; 8] = [
    Orientation::NoTransforms,
    Orientation::Rotate90,
    Orientation::Rotate180,
    Orientation::Rotate270,
    Orientation::FlipHorizontal,
    Orientation::FlipVertical,
    Orientation::Rotate90FlipH,
    Orientation::Rotate270FlipH,
];

/// Where pixel `(x, y)` of a `w` x `h` image goes under `o`, as `image`'s `apply_orientation`
/// moves it (`Rotate90` is clockwise; the `FlipH` ones rotate, then flip).
fn map(o: Orientation, (x, y): (i64, i64), (w, h): (i64, i64)) -> (i64, i64) {
    match o {
        Orientation::NoTransforms => (x, y),
        Orientation::Rotate90 => (h - 1 - y, x),
        Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
        Orientation::Rotate270 => (y, w - 1 - x),
        Orientation::FlipHorizontal => (w - 1 - x, y),
        Orientation::FlipVertical => (x, h - 1 - y),
        Orientation::Rotate90FlipH => (y, x),
        Orientation::Rotate270FlipH => (h - 1 - y, w - 1 - x),
    }
}

fn swaps(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn dims(o: Orientation, (w, h): (i64, i64)) -> (i64, i64) {
    if swaps(o) { (h, w) } else { (w, h) }
}

/// `after` applied to the result of `before`, as one orientation: found by where the corners of a
/// 3 x 2 image go, which tells all eight apart.
fn compose(after: Orientation, before: Orientation) -> Orientation {
    let size = (3, 2);
    let corners = [(0, 0), (2, 0), (0, 1)];
    let target = corners.map(|p| map(after, map(before, p, size), dims(before, size)));
    ALL.into_iter()
        .find(|&o| corners.map(|p| map(o, p, size)) == target)
        .unwrap_or(Orientation::NoTransforms)
}

/// The crop (in stored coordinates) and orientation that show a `width` x `height` image as
/// `transforms` say.
///
/// # Errors
/// [`HeifError::BadCrop`] for a clean aperture that is empty, off the pixel grid or reaches
/// outside the image.
pub(in crate::imaging) fn resolve(
    transforms: &[Transform],
    width: u32,
    height: u32,
) -> Result<(Rect, Orientation), HeifError> {
    let mut crop = Rect {
        x: 0,
        y: 0,
        width,
        height,
    };
    let mut orientation = Orientation::NoTransforms;
    for transform in transforms {
        match *transform {
            Transform::Rotate(quarters) => {
                let turn = match quarters & 3 {
                    0 => Orientation::NoTransforms,
                    1 => Orientation::Rotate270,
                    2 => Orientation::Rotate180,
                    _ => Orientation::Rotate90,
                };
                orientation = compose(turn, orientation);
            }
            Transform::Mirror(mode) => {
                let flip = if mode == 0 {
                    Orientation::FlipVertical
                } else {
                    Orientation::FlipHorizontal
                };
                orientation = compose(flip, orientation);
            }
            Transform::Crop(clap) => {
                let size = (i64::from(crop.width), i64::from(crop.height));
                let (vw, vh) = dims(orientation, size);
                let (x, y, w, h) = aperture(&clap, vw, vh)?;
                // The inverse orientation takes the shown rectangle back to stored coordinates.
                let inverse = ALL
                    .into_iter()
                    .find(|&o| compose(o, orientation) == Orientation::NoTransforms)
                    .unwrap_or(Orientation::NoTransforms);
                let shown = (vw, vh);
                let a = map(inverse, (x, y), shown);
                let b = map(inverse, (x + w - 1, y + h - 1), shown);
                let (x0, y0) = (a.0.min(b.0), a.1.min(b.1));
                let (x1, y1) = (a.0.max(b.0), a.1.max(b.1));
                crop = Rect {
                    x: crop.x + x0 as u32,
                    y: crop.y + y0 as u32,
                    width: (x1 - x0 + 1) as u32,
                    height: (y1 - y0 + 1) as u32,
                };
            }
        }
    }
    Ok((crop, orientation))
}

/// The clean aperture of a `w` x `h` image as (left, top, width, height) in whole pixels
/// (ISO/IEC 14496-12 §12.1.4: centred at `offset + (size - 1) / 2`).
fn aperture(clap: &Clap, w: i64, h: i64) -> Result<(i64, i64, i64, i64), HeifError> {
    let whole = |(n, d): (u32, u32)| -> Result<i64, HeifError> {
        if d == 0 || n % d != 0 {
            return Err(HeifError::BadCrop);
        }
        Ok(i64::from(n / d))
    };
    let (cw, ch) = (whole(clap.width)?, whole(clap.height)?);
    // left = offset + (size - 1) / 2 - (cw - 1) / 2, kept whole by working in doubled units.
    let start = |(on, od): (i32, u32), size: i64, c: i64| -> Result<i64, HeifError> {
        if od == 0 {
            return Err(HeifError::BadCrop);
        }
        let od = i64::from(od);
        let twice = 2 * i64::from(on) + od * (size - 1) - od * (c - 1);
        if twice % (2 * od) != 0 {
            return Err(HeifError::BadCrop);
        }
        Ok(twice / (2 * od))
    };
    let x = start(clap.horizontal_offset, w, cw)?;
    let y = start(clap.vertical_offset, h, ch)?;
    if cw < 1 || ch < 1 || x < 0 || y < 0 || x + cw > w || y + ch > h {
        return Err(HeifError::BadCrop);
    }
    Ok((x, y, cw, ch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clap(w: u32, h: u32, dx: i32, dy: i32) -> Transform {
        Transform::Crop(Clap {
            width: (w, 1),
            height: (h, 1),
            horizontal_offset: (dx, 1),
            vertical_offset: (dy, 1),
        })
    }

    #[test]
    fn rotations_are_anticlockwise_and_mirrors_follow_the_2022_modes() {
        let cases = [
            (vec![Transform::Rotate(1)], Orientation::Rotate270),
            (vec![Transform::Rotate(3)], Orientation::Rotate90),
            (vec![Transform::Mirror(0)], Orientation::FlipVertical),
            (vec![Transform::Mirror(1)], Orientation::FlipHorizontal),
            (
                vec![Transform::Rotate(1), Transform::Rotate(1)],
                Orientation::Rotate180,
            ),
            (
                vec![Transform::Mirror(1), Transform::Mirror(1)],
                Orientation::NoTransforms,
            ),
            // Turn a quarter anticlockwise, then swap left and right: the anti-transpose.
            (
                vec![Transform::Rotate(1), Transform::Mirror(1)],
                Orientation::Rotate270FlipH,
            ),
        ];
        for (transforms, expected) in cases {
            let (crop, o) = resolve(&transforms, 40, 30).unwrap();
            assert_eq!(o, expected, "{transforms:?}");
            assert_eq!((crop.width, crop.height), (40, 30));
        }
    }

    #[test]
    fn a_crop_after_a_turn_is_a_crop_of_the_turned_rectangle() {
        // A 40 x 30 image turned a quarter anticlockwise shows 30 x 40; keep its top 30 x 20 (an
        // offset of -10 from the centre): in the stored image, that is the right half.
        let (crop, o) = resolve(&[Transform::Rotate(1), clap(30, 20, 0, -10)], 40, 30).unwrap();
        assert_eq!(o, Orientation::Rotate270);
        assert_eq!(
            crop,
            Rect {
                x: 20,
                y: 0,
                width: 20,
                height: 30
            }
        );
        // Cropped first, then turned: the same rectangle of the stored image as asked.
        let (crop, _) = resolve(&[clap(20, 30, 10, 0), Transform::Rotate(1)], 40, 30).unwrap();
        assert_eq!((crop.x, crop.width), (20, 20));
    }

    #[test]
    fn crops_off_the_grid_or_outside_the_image_are_refused() {
        let half = Transform::Crop(Clap {
            width: (39, 2),
            height: (30, 1),
            horizontal_offset: (0, 1),
            vertical_offset: (0, 1),
        });
        for transforms in [
            vec![clap(41, 30, 0, 0)],
            vec![clap(20, 30, 15, 0)],
            vec![clap(0, 30, 0, 0)],
            vec![half],
            // 40 x 30 turned shows 30 x 40: a 40-wide crop no longer fits.
            vec![Transform::Rotate(1), clap(40, 30, 0, 0)],
        ] {
            assert_eq!(
                resolve(&transforms, 40, 30),
                Err(HeifError::BadCrop),
                "{transforms:?}"
            );
        }
    }
}
