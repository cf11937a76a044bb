//! AV1 still images: the coded data of one AVIF item, decoded by rav1d (the Rust port of dav1d,
//! as published in the `re_rav1d` package: see `ffi::N_THREADS`), called through its dav1d C API,
//! the only public one it has.
//!
//! A decoder is opened for one item and closed before [`decode`] returns: no worker thread and one
//! frame context, so it decodes on the calling thread and frees everything it allocated when it is
//! closed; film grain applied, only the highest
//! spatial layer of operating point 0 output, no logging, and a frame size limit from the item's
//! `ispe` that rav1d checks when it parses a frame header, before it allocates the frame. The
//! whole stream is decoded before the picture is lent out, so damage anywhere in it is found,
//! even after the frame that is shown.
//!
//! All the `unsafe` is in [`ffi`]: owners of the context, the input and a picture, which release
//! them when dropped, whatever path the decoding took, and the one place the planes are borrowed.

use super::picture::{Chroma, PictureRef, Plane, Samples, StreamColour};

/// Limits the decoder is held to, from the container's checked properties.
#[derive(Debug, Clone, Copy)]
pub(in crate::imaging) struct Av1Limits {
    /// The item's `ispe` width: a wider frame is refused.
    pub max_width: u32,
    /// The item's `ispe` height: a taller frame is refused.
    pub max_height: u32,
}

/// Why an item's AV1 data gave no picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::imaging) enum Av1Error {
    /// Not exactly a valid AV1 stream with a picture to show: empty, truncated, corrupt anywhere,
    /// no frame shown, or a picture format outside [`PictureRef`]'s.
    Undecodable,
    /// A frame larger than the limits (or limits of zero), refused before its buffers are
    /// allocated.
    TooLarge,
}

/// Decodes the AV1 data of one item (low-overhead OBUs, after the `av1C` box's `configOBUs`) and
/// lends its picture to `use_picture`. The stream must decode without error to its end and show at
/// least one frame; the first shown is the item's picture.
pub(in crate::imaging) fn decode<R>(
    config_obus: &[u8],
    data: &[u8],
    limits: &Av1Limits,
    use_picture: impl FnOnce(PictureRef<'_>) -> R,
) -> Result<R, Av1Error> {
    if limits.max_width == 0 || limits.max_height == 0 {
        return Err(Av1Error::TooLarge);
    }
    if data.is_empty() {
        return Err(Av1Error::Undecodable);
    }
    // rav1d compares width * height with this; the sides are checked on the picture below.
    // Saturating, as 0 would mean no limit (and AV1 frames have at most 2^32 samples anyway).
    let frame_size_limit = limits.max_width.saturating_mul(limits.max_height);
    let decoder = ffi::Decoder::open(frame_size_limit)?;
    let mut input = ffi::Input::copy_of(config_obus, data)?;
    let mut first = None;
    let mut all_sent = false;
    // Calls for a picture that gave none since the last send. The first such call after a send
    // only arms the drain (rav1d drains what it holds on the next call), so two in a row after
    // the last send mean that all is decoded and taken.
    let mut idle = 0;
    loop {
        if !all_sent {
            all_sent = decoder.send(&mut input)?;
            if all_sent {
                idle = 0;
            } else if idle > 0 {
                // Input refused with no picture to take: rav1d never does this.
                return Err(Av1Error::Undecodable);
            }
        }
        match decoder.next_picture()? {
            Some(picture) => {
                idle = 0;
                // Further pictures are released at once: the first is the item's.
                if first.is_none() {
                    first = Some(picture);
                }
            }
            None => {
                idle += 1;
                if all_sent && idle == 2 {
                    break;
                }
            }
        }
    }
    let picture = first.as_ref().ok_or(Av1Error::Undecodable)?.view()?;
    if picture.width > limits.max_width || picture.height > limits.max_height {
        return Err(Av1Error::TooLarge);
    }
    Ok(use_picture(picture))
}

/// The planes' layout, checked; [`ffi::Picture::view`] borrows the samples.
fn picture_ref<'a>(
    width: i32,
    height: i32,
    bit_depth: i32,
    chroma: Chroma,
    colour: StreamColour,
    plane: impl Fn(usize, u32, u32, u8) -> Result<Plane<'a>, Av1Error>,
) -> Result<PictureRef<'a>, Av1Error> {
    let side = |s: i32| u32::try_from(s).ok().filter(|&s| s > 0);
    let (Some(width), Some(height)) = (side(width), side(height)) else {
        return Err(Av1Error::Undecodable);
    };
    let bit_depth = match bit_depth {
        8 => 8,
        10 => 10,
        12 => 12,
        _ => return Err(Av1Error::Undecodable),
    };
    let luma = plane(0, width, height, bit_depth)?;
    let chroma_planes = if chroma == Chroma::Monochrome {
        None
    } else {
        let (x, y) = chroma.shifts();
        let (w, h) = ((width + x) >> x, (height + y) >> y);
        Some([plane(1, w, h, bit_depth)?, plane(2, w, h, bit_depth)?])
    };
    Ok(PictureRef {
        width,
        height,
        bit_depth,
        chroma,
        luma,
        chroma_planes,
        colour,
    })
}

/// The calls into rav1d, and the borrows of what it returns.
mod ffi {
    use std::ffi::c_void;
    use std::io::ErrorKind;
    use std::mem::MaybeUninit;
    use std::ptr::NonNull;

    use rav1d::Dav1dResult;
    use rav1d::include::dav1d::data::Dav1dData;
    use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dLogger, Dav1dSettings};
    use rav1d::include::dav1d::headers::{
        DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
        DAV1D_PIXEL_LAYOUT_I444,
    };
    use rav1d::include::dav1d::picture::Dav1dPicture;
    use rav1d::src::lib::{
        dav1d_close, dav1d_data_unref, dav1d_data_wrap, dav1d_default_settings, dav1d_get_picture,
        dav1d_open, dav1d_picture_unref, dav1d_send_data,
    };
    use rav1d::src::send_sync_non_null::SendSyncNonNull;

    use super::{Av1Error, Chroma, PictureRef, Plane, Samples, StreamColour, picture_ref};

    /// `ERANGE`, rav1d's error for a frame over `frame_size_limit` (34 on Linux, macOS and BSD).
    const ERANGE: i32 = 34;

    /// Threads, and as many frame contexts: one. Frame threading would keep every coefficient
    /// and block of the frame (7.5 bytes a pixel in all, against 2 with one context) on worker
    /// threads that outlive the decoder. With a single frame context, `rav1d` 1.1.0 panics on an
    /// error inside a frame's decoding (it unwraps a frame header its own cleanup took,
    /// memorysafety/rav1d#1497), and a panic cannot leave its `extern "C"` functions: the process
    /// aborts. `re_rav1d` 0.1.3 is the same code with that fixed, so errors come back as errors.
    const N_THREADS: i32 = 1;

    /// What a call that did not fail did.
    #[derive(PartialEq, Eq)]
    enum Done {
        /// All of it (`0`).
        All,
        /// Nothing this time (`EAGAIN`): pictures are waiting to be taken, or there are none.
        Again,
    }

    fn outcome(result: Dav1dResult) -> Result<Done, Av1Error> {
        match result.0 {
            0 => Ok(Done::All),
            e if e == -ERANGE => Err(Av1Error::TooLarge),
            e => match e.checked_neg() {
                Some(errno)
                    if std::io::Error::from_raw_os_error(errno).kind() == ErrorKind::WouldBlock =>
                {
                    Ok(Done::Again)
                }
                _ => Err(Av1Error::Undecodable),
            },
        }
    }

    /// An open decoder context, closed on drop.
    pub(super) struct Decoder(Option<Dav1dContext>);

    impl Decoder {
        pub(super) fn open(frame_size_limit: u32) -> Result<Self, Av1Error> {
            let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
            // SAFETY: `dav1d_default_settings` writes a whole `Dav1dSettings` through the pointer,
            // which is valid for that write; after it the value is initialised.
            let mut settings = unsafe {
                dav1d_default_settings(NonNull::from(&mut settings).cast());
                settings.assume_init()
            };
            settings.n_threads = N_THREADS;
            settings.max_frame_delay = N_THREADS;
            settings.apply_grain = 1;
            settings.operating_point = 0;
            settings.all_layers = 0;
            settings.frame_size_limit = frame_size_limit;
            // SAFETY: a logger without a callback has nothing for rav1d to call: logging is off.
            settings.logger = unsafe { Dav1dLogger::new(None, None) };
            let mut decoder = Self(None);
            // SAFETY: both pointers are to live locals: `settings` is read, and the context (or
            // `None`) is written to `decoder.0`, which closes it when dropped.
            let result = unsafe {
                dav1d_open(
                    Some(NonNull::from(&mut decoder.0)),
                    Some(NonNull::from(&mut settings)),
                )
            };
            outcome(result)?;
            match decoder.0 {
                Some(_) => Ok(decoder),
                None => Err(Av1Error::Undecodable),
            }
        }

        /// Sends the input: `true` when all of it was taken (the input is then empty).
        pub(super) fn send(&self, input: &mut Input) -> Result<bool, Av1Error> {
            // SAFETY: `self.0` is the context `dav1d_open` made, not closed before `self` drops,
            // and only used from this thread (`Decoder` is neither `Send` nor `Sync`);
            // `input.0` is a `Dav1dData` from `dav1d_data_wrap`, valid to read and write.
            let result = unsafe { dav1d_send_data(self.0, Some(NonNull::from(&mut input.0))) };
            Ok(outcome(result)? == Done::All)
        }

        /// The next picture decoded from what was sent, if there is one.
        pub(super) fn next_picture(&self) -> Result<Option<Picture>, Av1Error> {
            let mut picture = Picture(Dav1dPicture::default());
            // SAFETY: the context as in `send`; `picture.0` is valid to write (the default it
            // holds owns nothing), and `Picture` unreferences whatever is written there.
            let result = unsafe { dav1d_get_picture(self.0, Some(NonNull::from(&mut picture.0))) };
            Ok((outcome(result)? == Done::All).then_some(picture))
        }
    }

    impl Drop for Decoder {
        fn drop(&mut self) {
            // SAFETY: `self.0` is `None` or the context from `dav1d_open`, not yet closed;
            // `dav1d_close` closes it and leaves `None`.
            unsafe { dav1d_close(Some(NonNull::from(&mut self.0))) };
        }
    }

    /// The stream, copied into a buffer rav1d owns from here on (it may keep parts of it for as
    /// long as it likes, and it frees it through [`free_input`]).
    pub(super) struct Input(Dav1dData);

    impl Input {
        pub(super) fn copy_of(head: &[u8], tail: &[u8]) -> Result<Self, Av1Error> {
            let mut bytes = Vec::with_capacity(head.len().saturating_add(tail.len()));
            bytes.extend_from_slice(head);
            bytes.extend_from_slice(tail);
            let (start, len) = (NonNull::new(bytes.as_mut_ptr()), bytes.len());
            // Moving the `Vec` into the box moves none of its bytes: `start` stays valid.
            let owner = SendSyncNonNull::from_box(Box::new(bytes)).cast::<c_void>();
            let mut input = Self(Dav1dData::default());
            // SAFETY: `input.0` is valid to write; `start` is the start of `len` bytes, which
            // stay valid and unmoved until `free_input` drops their `Vec` from `owner`. rav1d
            // refuses these arguments only for a null pointer or callback (neither is) and a
            // size over `usize::MAX / 2` (a `Vec` has none), and it does so before taking
            // ownership: the bytes would then leak, never be freed twice.
            let result = unsafe {
                dav1d_data_wrap(
                    Some(NonNull::from(&mut input.0)),
                    start,
                    len,
                    Some(free_input),
                    Some(owner),
                )
            };
            outcome(result).map(|_| input)
        }
    }

    impl Drop for Input {
        fn drop(&mut self) {
            // SAFETY: `self.0` is empty (the default, or taken by `dav1d_send_data`) or holds the
            // reference `dav1d_data_wrap` made; unreferencing it leaves it empty.
            unsafe { dav1d_data_unref(Some(NonNull::from(&mut self.0))) };
        }
    }

    /// Frees the bytes of an [`Input`], when rav1d lets go of its last reference to them.
    unsafe extern "C" fn free_input(_start: *const u8, owner: Option<SendSyncNonNull<c_void>>) {
        if let Some(owner) = owner {
            // SAFETY: rav1d calls this once, with the `owner` that `Input::copy_of` made with
            // `SendSyncNonNull::from_box` from a `Box<Vec<u8>>`.
            drop(unsafe { owner.cast::<Vec<u8>>().into_box() });
        }
    }

    /// A decoded picture, unreferenced on drop.
    pub(super) struct Picture(Dav1dPicture);

    impl Drop for Picture {
        fn drop(&mut self) {
            // SAFETY: `self.0` is a default picture or one `dav1d_get_picture` wrote, and every
            // borrow of its planes has ended; unreferencing leaves the default.
            unsafe { dav1d_picture_unref(Some(NonNull::from(&mut self.0))) };
        }
    }

    impl Picture {
        /// The picture as [`PictureRef`], borrowing the planes for as long as `self` lives.
        pub(super) fn view(&self) -> Result<PictureRef<'_>, Av1Error> {
            let p = &self.0;
            let chroma = match p.p.layout {
                DAV1D_PIXEL_LAYOUT_I400 => Chroma::Monochrome,
                DAV1D_PIXEL_LAYOUT_I420 => Chroma::Yuv420,
                DAV1D_PIXEL_LAYOUT_I422 => Chroma::Yuv422,
                DAV1D_PIXEL_LAYOUT_I444 => Chroma::Yuv444,
                _ => return Err(Av1Error::Undecodable),
            };
            let Some(header) = p.seq_hdr else {
                return Err(Av1Error::Undecodable);
            };
            // SAFETY: a picture from `dav1d_get_picture` points at the sequence header it was
            // decoded with, which its `seq_hdr_ref` keeps alive until it is unreferenced (when
            // `self` drops); nothing writes to it.
            let header = unsafe { header.as_ref() };
            let colour = StreamColour {
                // H.273 code points are below 256; anything else is unknown, as unspecified (2).
                matrix: u8::try_from(header.mtrx).unwrap_or(2),
                full_range: header.color_range != 0,
            };
            picture_ref(p.p.w, p.p.h, p.p.bpc, chroma, colour, |i, w, h, depth| {
                self.plane(i, w, h, depth)
            })
        }

        /// Plane `index` (0 luma, 1 Cb, 2 Cr), `width` x `height` samples of `bit_depth` bits.
        fn plane(
            &self,
            index: usize,
            width: u32,
            height: u32,
            bit_depth: u8,
        ) -> Result<Plane<'_>, Av1Error> {
            let stride = self.0.stride[index.min(1)];
            let (samples, stride) = if bit_depth == 8 {
                let (samples, stride) = self.samples::<u8>(index, stride, width, height)?;
                (Samples::Eight(samples), stride)
            } else {
                let (samples, stride) = self.samples::<u16>(index, stride, width, height)?;
                (Samples::Deep(samples), stride)
            };
            Ok(Plane {
                samples,
                stride,
                width,
                height,
            })
        }

        /// The samples of plane `index`, from its first to the last of its last row, and the
        /// stride in samples (rav1d's is in bytes). Refused unless the stride is positive, holds
        /// a row and a whole number of samples, and the plane is aligned for `T`.
        fn samples<T: Sample>(
            &self,
            index: usize,
            stride_bytes: isize,
            width: u32,
            height: u32,
        ) -> Result<(&[T], usize), Av1Error> {
            let start = self.0.data[index].ok_or(Av1Error::Undecodable)?.cast::<T>();
            let size = size_of::<T>();
            let stride_bytes = usize::try_from(stride_bytes).map_err(|_| Av1Error::Undecodable)?;
            let row_bytes = usize::try_from(width)
                .ok()
                .and_then(|w| w.checked_mul(size));
            let rows_before_last = usize::try_from(height.saturating_sub(1)).ok();
            let len_bytes = row_bytes
                .zip(rows_before_last)
                .and_then(|(row, rows)| stride_bytes.checked_mul(rows)?.checked_add(row));
            let (Some(row_bytes), Some(len_bytes)) = (row_bytes, len_bytes) else {
                return Err(Av1Error::Undecodable);
            };
            if stride_bytes < row_bytes
                || stride_bytes % size != 0
                || !start.is_aligned()
                || isize::try_from(len_bytes).is_err()
            {
                return Err(Av1Error::Undecodable);
            }
            // SAFETY: rav1d's picture allocator gives each plane `stride * rows` bytes, `rows`
            // being the height rounded up to 128 (halved for 4:2:0 chroma), initialised (a zeroed
            // or reused `Vec`); `len_bytes` (which fits an `isize`) is within that, as the stride
            // holds a row, and is a whole number of `T`s at an address aligned for `T`, which is
            // `u8` or `u16`: every initialised bit pattern is a value. The buffer stays allocated
            // while `self` holds its reference, and nothing writes to it once the picture is
            // output: the decoder only reads its reference frames.
            let samples = unsafe { std::slice::from_raw_parts(start.as_ptr(), len_bytes / size) };
            Ok((samples, stride_bytes / size))
        }
    }

    /// The sample types a plane may be borrowed as.
    trait Sample {}
    impl Sample for u8 {}
    impl Sample for u16 {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_alloc::bytes_allocated_by;

    // Made with avifenc 0.11.1 (aom 3.6.0) from a 35 x 21 crop of a noisy test JPEG, tinted with
    // gradients so that every plane varies: `avifenc -c aom -s 6 --min 20 --max 40` with `-d 8 -y 420`, `-d 10 -y 420`,
    // `-y 444`, `-y 400`, `-d 12 -y 422`, and `-y 420 -a film-grain-test=1`; the last from a flat
    // grey 4032 x 3024 PNG with `-s 10 --min 63 --max 63`. Whole files, so that the item's data is
    // taken out of them as the container reader will (see `item`). Their av1C boxes have no
    // configOBUs: the sequence header is in the data.
    const YUV420_8: &str = "\
        00000020667479706176696600000000617669666d6966316d6961664d413142000000f26d65746100000000\
        0000002868646c720000000000000000706963740000000000000000000000006c696261766966000000000e\
        7069746d0000000000010000001e696c6f6300000000440000010001000000010000011a000000fb00000028\
        69696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a69707270\
        0000004b6970636f000000146973706500000000000000230000001500000010706978690000000003080808\
        0000000c6176314381000c0000000013636f6c726e636c780001000d0006800000001769706d610000000000\
        00000100010401028304000001036d64617412000a09181522a30404341a1032eb0117800924924500eb4fbe\
        f2cc6b42e6634f7c83a1760f2ab28afe814f6698e5dff3536409e94c27fae0efdb3019b8ad2f5801b6fc2108\
        135583d00d820a68a62935f6e8ef8f40fb44196f222a602daa0cab6c9b9c51cc98a3b92e892671fc55ef33db\
        54a716cd6b74c0162da26dd86683130b5b6b8f1b062c2088f4a5dbdbcd1eaff75b3e9dd65d38a47788716ba6\
        236e036ff32fce59120e4ef259fdfd38bde70dfaadb3ed3ea6b15d11909592b187403d6164714219500bd054\
        2abea9da9d3011a1385cc2adfe0d4be58614113912c4d948554ffab0707831a0d6dbd7198a4b8da3b118f620\
        bdc87b1e40";

    const YUV420_10: &str = "\
        00000020667479706176696600000000617669666d6966316d6961664d413142000000f26d65746100000000\
        0000002868646c720000000000000000706963740000000000000000000000006c696261766966000000000e\
        7069746d0000000000010000001e696c6f6300000000440000010001000000010000011a000000fb00000028\
        69696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a69707270\
        0000004b6970636f0000001469737065000000000000002300000015000000107069786900000000030a0a0a\
        0000000c6176314381004c0000000013636f6c726e636c780001000d0006800000001769706d610000000000\
        00000100010401028304000001036d64617412000a09181522a31404341a1032eb0117800c30c30500eb4fbe\
        d9e346576313e348c18dca67e9a6666b107b7d17b9eeecbba474c91e9a40356364710dff90abf69f178fe3c2\
        285ef6c6309174f96fce3f44886d36d3a2e64272c55ec0b0f8abdd5663f594a50111f998e5083a76408bccd4\
        535a3980f0d3cd7291edc84ceff7fea8d6ea6d063795e0bda16194bf0ed49c336431e1ecd93b238624691d59\
        b62554367941d893504e045a38443554891f186b2ae5411c23cddb8c9e45a84c885f7974c8b38e7d142ecfc3\
        d936a2bef5ea73790880d432bb4c6241a21a9356b16824247c6157391aa937791d26d1aba9ce54d21f15a28c\
        dc29236cfe";

    const YUV444_8: &str = "\
        00000020667479706176696600000000617669666d6966316d6961664d413141000000f26d65746100000000\
        0000002868646c720000000000000000706963740000000000000000000000006c696261766966000000000e\
        7069746d0000000000010000001e696c6f6300000000440000010001000000010000011a0000019a00000028\
        69696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a69707270\
        0000004b6970636f000000146973706500000000000000230000001500000010706978690000000003080808\
        0000000c617631438120000000000013636f6c726e636c780001000d0006800000001769706d610000000000\
        00000100010401028304000001a26d64617412000a09381522a30808683480328a0317800924924500eb4fbe\
        d9e346576313e3486589d0ec3d575f7184b7f61d621e7690230326ef297599b682af4ec10844fb7ff00c66cd\
        f5865201ab1b23886ffc855fb4f8bc7f1e11429334b215e19e81f628307c442d1d05202672f97eb392433bd3\
        5241f59ce9b3d3352d5a9a3b43ab714b4853a9d8de102c6f1da95897ceb2859a5396da137bb7afd749982408\
        334e89d8c0280c8035d8719dc531e90cd4fb7a5ac645d3b0bf55ee5bf508b3923fd35a2e30b6d74f601c1e08\
        b1c5602b245ae71259df38ee5a5971c0b2309ca36d1a8bac667699effbdd51b3ddb4170c1126f71288bb9338\
        53c4298a1008abf6179e43a4180472f526c551838a7a5ca04a00fcf0f8c616d83fb9751c1304e644568b96cc\
        09f976dfe2e356f84c6111bd7f6475bce683295eb656ae21e100b520472404c8d673a24b4ec8f7abbdc46276\
        2141f576965bc7fa6c32475c3f4102eb0dcc7430e75886b8abb76019c06c69504764c49a7e23f8c54b7fe86d\
        bd0d23ec471c7394d23e3dbe6bfd702f79773cae72bd3b9ecdc6a0b7c5818a80";

    const MONO_8: &str = "\
        0000001c667479706176696600000000617669666d6966316d696166000000f06d6574610000000000000028\
        68646c720000000000000000706963740000000000000000000000006c696261766966000000000e7069746d\
        0000000000010000001e696c6f63000000004400000100010000000100000114000000980000002869696e66\
        0000000000010000001a696e6665020000000001000061763031436f6c6f7200000000686970727000000049\
        6970636f00000014697370650000000000000023000000150000000e706978690000000001080000000c6176\
        314381001c0000000013636f6c726e636c780001000d0006800000001769706d610000000000000001000104\
        01028304000000a06d64617412000a09181522a30c04341a803288011780249140e954da39598da1c1ed1f6c\
        2d78c44bdd0a4fbeafd90f75ce353b5217690fa9c9823811eb89981416bc64c5991cc9085ffcdac74f64834e\
        641b8edb60e921c005534ad20c02d63ef7710d515f677eab079092f1319c3cefc26732617507b70f7c51512f\
        229627cca4c0b77b05fe28785f30e4ce7e1b15219abb48c5eabba05a05b98230";

    const YUV422_12: &str = "\
        0000001c667479706176696600000000617669666d6966316d696166000000f26d6574610000000000000028\
        68646c720000000000000000706963740000000000000000000000006c696261766966000000000e7069746d\
        0000000000010000001e696c6f63000000004400000100010000000100000116000001230000002869696e66\
        0000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a697072700000004b\
        6970636f0000001469737065000000000000002300000015000000107069786900000000030c0c0c0000000c\
        617631438140680000000013636f6c726e636c780001000d0006800000001769706d61000000000000000100\
        0104010283040000012b6d64617412000a09581522a31a021a0d8832930217800c30c30500eb4fbed9e34657\
        6313e348c18dd09fc11e81e4ec8cd23a044da5e101d3f0c5bb6ff95f2a4f4806ac6c8e21bff2157ed3e2f1fc\
        78450a4ad74dba428ea4ea08117f78989174a30ca2b2740e675fab91624add29038f2c6128be83a285a45e24\
        55211ad22a6e2925bf3539eafb7ed4ec570b00ba9f9b2f1f810137931a8d2cb0a5b0a1b98c267ce538caef63\
        61789dd2a770622f94e4999e4a8bcaa19081d6284bb71bc8c6bad9547f6cc4d9dfb1b735ea9fc31efbd79300\
        de81e992a5ba912554bd631ac6053e3a8f6b580ccdeeab386a9b4c91919ebf56533c3162fbc111fe35fac18d\
        5cf08dbca19e0c31b4a7cdca8cf8944897a8bf868f1e9a9aa24bb03cc345a75d07370839dc84f001f8";

    const GRAIN_420_8: &str = "\
        00000020667479706176696600000000617669666d6966316d6961664d413142000000f26d65746100000000\
        0000002868646c720000000000000000706963740000000000000000000000006c696261766966000000000e\
        7069746d0000000000010000001e696c6f6300000000440000010001000000010000011a0000016a00000028\
        69696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a69707270\
        0000004b6970636f000000146973706500000000000000230000001500000010706978690000000003080808\
        0000000c6176314381000c0000000013636f6c726e636c780001000d0006800000001769706d610000000000\
        00000100010401028304000001726d64617412000a09181522a30404341a3032da021780092492456c2bf840\
        0066208640a680c2a0e2210e014a418661c64202c23ea27ac2cae102000288038b078d0b510d3410d5151a12\
        200038c070a084c0a0d0d8c0f4e112e15361d01008d01010069c8ab009ba501009f010100b92cc500b50f4f0\
        100a3010100c33ecf00c11a391ef8012e5c01b00eb4fbef2cc6b42e6634f7c83a1760f2ab28afe814f6698e5\
        dff3536409e94c27fae0efdb3019b8ad2f5801b6fc2108135583d00d820a68a62935f6e8ef8f40fb44196f22\
        2a602daa0cab6c9b9c51cc98a3b92e892671fc55ef33db54a716cd6b74c0162da26dd86683130b5b6b8f1b06\
        2c2088f4a5dbdbcd1eaff75b3e9dd65d38a47788716ba6236e036ff32fce59120e4ef259fdfd38bde70dfaad\
        b3ed3ea6b15d11909592b187403d6164714219500bd0542abea9da9d3011a1385cc2adfe0d4be58614113912\
        c4d948554ffab0707831a0d6dbd7198a4b8da3b118f620bdc87b1e40";

    const FLAT_4032X3024: &str = "\
        00000020667479706176696600000000617669666d6966316d6961664d413142000000f26d65746100000000\
        0000002868646c720000000000000000706963740000000000000000000000006c696261766966000000000e\
        7069746d0000000000010000001e696c6f6300000000440000010001000000010000011a0000010700000028\
        69696e660000000000010000001a696e6665020000000001000061763031436f6c6f72000000006a69707270\
        0000004b6970636f00000014697370650000000000000fc000000bd000000010706978690000000003080808\
        0000000c6176314381100c0000000013636f6c726e636c780001000d0006800000001769706d610000000000\
        000001000104010283040000010f6d64617412000a0b1c2efefef3f82021a0d08032f501183fc0ffffff1400\
        76f4da939067fe916f6caea9422e7cfbc9ce5dc20852a5b9096c618138e517d88d72748da5c2ce88e0cbbd76\
        d699c5789dd14dc928503e37c100e6b0eb8486d355a0deb237c96b8b32ce54127758bde55d960392de286b3b\
        b2d890ed78f98e509dc34d4a6eca6240625a54c286953a9d0c6f5aa8ee16a550f4da939067fe916f6caea942\
        2e7cfbc9ce5dc20852a5b9096c618138e517d88d72748da5c2ce88e0cbbf4a97242334ba90188d340c111434\
        c08bd2f3d3edaa76fe3bcf32d83bc7119562e31df7abba4b21c96f14359dd96c4876bc7cc7284ee1a6a53765\
        3120312d2a61434a9d4e8637ad54770d48";

    /// The 64-bit FNV-1a hashes of avifdec's planes (`avifdec -c dav1d FILE out.y4m`, the same
    /// bytes with `-c aom`): luma, then Cb and Cr; samples of more than 8 bits as little-endian
    /// pairs of bytes, rows without padding.
    const YUV420_8_HASHES: [u64; 3] = [0xbc84fd58e346d885, 0x66fcfa266905bd7b, 0xfcbe515e594df0c3];
    const YUV420_10_HASHES: [u64; 3] = [0xd09896fb6e6b5889, 0xf4278f09ee216d7b, 0x54962d1010431b24];
    const YUV444_8_HASHES: [u64; 3] = [0xb60b21bbd92c974e, 0x850fc23c792c9c6f, 0xb95d468e89a130f6];
    const MONO_8_HASHES: [u64; 1] = [0xbc84fd58e346d885];
    const YUV422_12_HASHES: [u64; 3] = [0xe6bd14330bdbe711, 0x9d5b22c3908efba2, 0x11643b6a5b11fde6];
    const GRAIN_420_8_HASHES: [u64; 3] =
        [0x126c2fbb14d1893e, 0xfff3286943563686, 0x5fa97ea7d5d1bfe6];

    const SMALL: Av1Limits = Av1Limits {
        max_width: 35,
        max_height: 21,
    };

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// The boxes in `bytes`, as (type, payload).
    fn boxes(mut bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut found = Vec::new();
        while bytes.len() >= 8 {
            let size = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
            assert!((8..=bytes.len()).contains(&size), "box size {size}");
            found.push((bytes[4..8].try_into().expect("4 bytes"), &bytes[8..size]));
            bytes = &bytes[size..];
        }
        found
    }

    fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        boxes(bytes)
            .into_iter()
            .find(|(k, _)| k == kind)
            .map(|(_, payload)| payload)
            .expect("box present")
    }

    /// Reads big-endian unsigned integers of 0 to 8 bytes.
    struct Reader<'a>(&'a [u8]);

    impl Reader<'_> {
        fn uint(&mut self, bytes: u64) -> u64 {
            let (head, rest) = self.0.split_at(bytes as usize);
            self.0 = rest;
            head.iter().fold(0, |n, &b| n << 8 | u64::from(b))
        }
    }

    /// The primary item's `av1C` configOBUs and data, from an AVIF file of the simple kind avifenc
    /// writes (one `meta`, extents in the file).
    fn item(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let meta = &child(file, b"meta")[4..];
        let pitm = child(meta, b"pitm");
        let primary = Reader(&pitm[4..]).uint(if pitm[0] == 0 { 2 } else { 4 });

        let mut iloc = Reader(child(meta, b"iloc"));
        let version = iloc.uint(1);
        iloc.uint(3);
        let sizes = iloc.uint(1);
        let (offset_size, length_size) = (sizes >> 4, sizes & 15);
        let sizes = iloc.uint(1);
        let base_size = sizes >> 4;
        let index_size = if version == 1 || version == 2 {
            sizes & 15
        } else {
            0
        };
        let id_size = if version < 2 { 2 } else { 4 };
        let mut data = Vec::new();
        for _ in 0..iloc.uint(id_size) {
            let id = iloc.uint(id_size);
            if version == 1 || version == 2 {
                assert_eq!(iloc.uint(2) & 15, 0, "construction method: file offsets");
            }
            iloc.uint(2);
            let base = iloc.uint(base_size);
            for _ in 0..iloc.uint(2) {
                iloc.uint(index_size);
                let offset = (base + iloc.uint(offset_size)) as usize;
                let length = iloc.uint(length_size) as usize;
                if id == primary {
                    data.extend_from_slice(&file[offset..offset + length]);
                }
            }
        }

        let iprp = child(meta, b"iprp");
        let properties = boxes(child(iprp, b"ipco"));
        let mut ipma = Reader(child(iprp, b"ipma"));
        let version = ipma.uint(1);
        let flags = ipma.uint(3);
        let mut config = None;
        for _ in 0..ipma.uint(4) {
            let id = ipma.uint(if version < 1 { 2 } else { 4 });
            for _ in 0..ipma.uint(1) {
                let index = if flags & 1 == 1 {
                    ipma.uint(2) & 0x7fff
                } else {
                    ipma.uint(1) & 0x7f
                };
                let (kind, payload) = properties[index as usize - 1];
                if id == primary && &kind == b"av1C" {
                    config = Some(payload[4..].to_vec());
                }
            }
        }
        (config.expect("an av1C property"), data)
    }

    fn fixture(hex: &str) -> (Vec<u8>, Vec<u8>) {
        item(&unhex(hex))
    }

    fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
        bytes.iter().fold(hash, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    /// The plane's hash as `YUV420_8_HASHES` has them, checking its geometry on the way.
    fn plane_hash(plane: &Plane<'_>) -> u64 {
        let (w, h) = (plane.width as usize, plane.height as usize);
        assert!(plane.stride >= w);
        let mut hash = 0xcbf2_9ce4_8422_2325;
        for y in 0..h {
            let row = y * plane.stride..y * plane.stride + w;
            hash = match plane.samples {
                Samples::Eight(s) => fnv1a(hash, &s[row]),
                Samples::Deep(s) => s[row]
                    .iter()
                    .fold(hash, |hash, v| fnv1a(hash, &v.to_le_bytes())),
            };
        }
        let len = match plane.samples {
            Samples::Eight(s) => s.len(),
            Samples::Deep(s) => s.len(),
        };
        assert_eq!(
            len,
            plane.stride * (h - 1) + w,
            "a slice to the last sample"
        );
        hash
    }

    /// Decodes a fixture and returns its format and its planes' hashes.
    fn decoded(hex: &str) -> (u8, Chroma, StreamColour, Vec<u64>) {
        let (config, data) = fixture(hex);
        decode(&config, &data, &SMALL, |p| {
            assert_eq!((p.width, p.height), (35, 21));
            assert_eq!((p.luma.width, p.luma.height), (35, 21));
            let mut hashes = vec![plane_hash(&p.luma)];
            if let Some(chroma) = p.chroma_planes {
                let (x, y) = p.chroma.shifts();
                for plane in &chroma {
                    assert_eq!((plane.width, plane.height), ((35 + x) >> x, (21 + y) >> y));
                    hashes.push(plane_hash(plane));
                }
            }
            (p.bit_depth, p.chroma, p.colour, hashes)
        })
        .expect("decodes")
    }

    /// How avifenc described every fixture (`colr` nclx 1/13/6, full range): aom repeats it in
    /// the sequence header's colour config.
    const COLOUR: StreamColour = StreamColour {
        matrix: 6,
        full_range: true,
    };

    #[test]
    fn decodes_8_bit_4_2_0_like_avifdec() {
        let expected = (8, Chroma::Yuv420, COLOUR, YUV420_8_HASHES.to_vec());
        assert_eq!(decoded(YUV420_8), expected);
    }

    #[test]
    fn decodes_10_bit_like_avifdec() {
        let expected = (10, Chroma::Yuv420, COLOUR, YUV420_10_HASHES.to_vec());
        assert_eq!(decoded(YUV420_10), expected);
    }

    #[test]
    fn decodes_12_bit_4_2_2_like_avifdec() {
        let expected = (12, Chroma::Yuv422, COLOUR, YUV422_12_HASHES.to_vec());
        assert_eq!(decoded(YUV422_12), expected);
    }

    #[test]
    fn decodes_4_4_4_like_avifdec() {
        let expected = (8, Chroma::Yuv444, COLOUR, YUV444_8_HASHES.to_vec());
        assert_eq!(decoded(YUV444_8), expected);
    }

    #[test]
    fn decodes_monochrome_like_avifdec() {
        let expected = (8, Chroma::Monochrome, COLOUR, MONO_8_HASHES.to_vec());
        assert_eq!(decoded(MONO_8), expected);
    }

    #[test]
    fn applies_film_grain_like_avifdec() {
        let expected = (8, Chroma::Yuv420, COLOUR, GRAIN_420_8_HASHES.to_vec());
        assert_eq!(decoded(GRAIN_420_8), expected);
    }

    /// Splits the sequence header OBU out of an item's data: (that OBU, the rest).
    fn split_sequence_header(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut at = 0;
        while at < data.len() {
            // obu_type, obu_extension_flag; obu_has_size_field is set in every fixture.
            let (kind, extension) = ((data[at] >> 3) & 15, (data[at] >> 2) & 1);
            let mut end = at + 1 + usize::from(extension);
            let (mut size, mut shift) = (0, 0);
            loop {
                let byte = data[end];
                end += 1;
                size |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            end += size;
            if kind == 1 {
                return (data[at..end].to_vec(), [&data[..at], &data[end..]].concat());
            }
            at = end;
        }
        panic!("no sequence header");
    }

    #[test]
    fn takes_the_sequence_header_from_config_obus() {
        // avifenc 0.11 writes no configOBUs in av1C and repeats the sequence header in the data.
        let (config, data) = fixture(YUV420_8);
        assert!(config.is_empty());
        let (sequence_header, frame) = split_sequence_header(&data);
        let luma = decode(&sequence_header, &frame, &SMALL, |p| plane_hash(&p.luma));
        assert_eq!(luma, Ok(YUV420_8_HASHES[0]));
        assert_eq!(
            decode(&[], &frame, &SMALL, |_| ()),
            Err(Av1Error::Undecodable)
        );
    }

    #[test]
    fn empty_data_is_undecodable() {
        let (sequence_header, _) = split_sequence_header(&fixture(YUV420_8).1);
        let result = decode(&sequence_header, &[], &SMALL, |_| ());
        assert_eq!(result, Err(Av1Error::Undecodable));
        assert_eq!(decode(&[], &[], &SMALL, |_| ()), Err(Av1Error::Undecodable));
        // A sequence header alone decodes without error, but shows no frame.
        let result = decode(&[], &sequence_header, &SMALL, |_| ());
        assert_eq!(result, Err(Av1Error::Undecodable));
    }

    #[test]
    fn truncated_data_is_undecodable() {
        for hex in [YUV420_8, YUV420_10, MONO_8, GRAIN_420_8] {
            let (config, data) = fixture(hex);
            for len in 0..data.len() {
                let result = decode(&config, &data[..len], &SMALL, |_| ());
                assert_eq!(
                    result,
                    Err(Av1Error::Undecodable),
                    "{len} of {} bytes",
                    data.len()
                );
            }
        }
    }

    /// xorshift64*: the same "random" bytes on every run.
    fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn garbage_is_undecodable() {
        let (config, _) = split_sequence_header(&fixture(YUV420_8).1);
        let mut pictures = 0;
        for seed in 0..200 {
            let garbage = random_bytes(seed, 1 + (seed as usize * 37) % 2000);
            assert_eq!(
                decode(&[], &garbage, &SMALL, |_| ()),
                Err(Av1Error::Undecodable)
            );
            // After a valid sequence header, random bytes are now and then a frame that AV1's
            // arithmetic decoding takes as well as any: a picture, but within the limits.
            if let Ok(size) = decode(&config, &garbage, &SMALL, |p| (p.width, p.height)) {
                assert!(size.0 <= 35 && size.1 <= 21, "seed {seed}");
                pictures += 1;
            }
        }
        assert!(pictures <= 20, "{pictures} of 200 pictures from garbage");
    }

    #[test]
    fn damaged_data_never_panics() {
        for hex in [
            YUV420_8,
            YUV420_10,
            YUV444_8,
            MONO_8,
            YUV422_12,
            GRAIN_420_8,
        ] {
            let (config, data) = fixture(hex);
            for seed in 0..150 {
                let mut damaged = data.clone();
                let noise = random_bytes(seed, 6);
                for pair in noise.chunks(2) {
                    let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % damaged.len();
                    damaged[at] ^= 1 << (pair[0] % 8);
                }
                // Damage to coefficients can decode to other pixels; anything else is refused.
                let _ = decode(&config, &damaged, &SMALL, |p| {
                    assert!(p.width <= 35 && p.height <= 21);
                    plane_hash(&p.luma)
                });
            }
        }
    }

    #[test]
    fn the_whole_stream_must_decode() {
        let (config, data) = fixture(YUV420_8);
        // A second frame after the item's is decoded (and released); the first is lent.
        let twice = [&data[..], &data[..]].concat();
        let luma = decode(&config, &twice, &SMALL, |p| plane_hash(&p.luma));
        assert_eq!(luma, Ok(YUV420_8_HASHES[0]));
        // Damage in it is found although the frame lent out was whole.
        let cut = &twice[..twice.len() - 10];
        assert_eq!(
            decode(&config, cut, &SMALL, |_| ()),
            Err(Av1Error::Undecodable)
        );
    }

    #[test]
    fn a_frame_larger_than_the_limits_is_too_large() {
        let (config, data) = fixture(YUV420_8);
        let limits = |max_width, max_height| Av1Limits {
            max_width,
            max_height,
        };
        for (w, h) in [(34, 21), (35, 20), (1, 1), (0, 21), (35, 0), (0, 0)] {
            let result = decode(&config, &data, &limits(w, h), |_| ());
            assert_eq!(result, Err(Av1Error::TooLarge), "{w} x {h}");
        }
        // Within rav1d's area limit (21 x 35 = 35 x 21), refused on its sides.
        let result = decode(&config, &data, &limits(21, 35), |_| ());
        assert_eq!(result, Err(Av1Error::TooLarge));
        let result = decode(&config, &data, &limits(u32::MAX, u32::MAX), |p| p.width);
        assert_eq!(result, Ok(35));
    }

    #[test]
    fn a_frame_too_large_is_refused_before_it_is_allocated() {
        let (config, data) = fixture(FLAT_4032X3024);
        let limits = Av1Limits {
            max_width: 4032,
            max_height: 3023,
        };
        let mut result = Ok(());
        let allocated = bytes_allocated_by(|| result = decode(&config, &data, &limits, |_| ()));
        assert_eq!(result, Err(Av1Error::TooLarge));
        // The frame's luma alone would be 12 MB: decoded within its limits, it is counted.
        assert!(allocated < 1 << 20, "{allocated} bytes allocated");
        let limits = Av1Limits {
            max_width: 4032,
            max_height: 3024,
        };
        let mut result = Ok(0);
        let allocated =
            bytes_allocated_by(|| result = decode(&config, &data, &limits, |p| p.width));
        assert_eq!(result, Ok(4032));
        assert!(allocated > 4032 * 3024, "{allocated} bytes allocated");
    }
}
