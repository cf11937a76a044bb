//! The calls into rav1d, and the borrows of what it returns: all the `unsafe` of AV1 decoding.

use std::ffi::c_void;
use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rav1d::Dav1dResult;
use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{
    DAV1D_INLOOPFILTER_ALL, DAV1D_INLOOPFILTER_NONE, Dav1dContext, Dav1dLogger, Dav1dSettings,
};
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

use super::{Av1Error, Chroma, LoopFilters, PictureRef, Plane, Samples, StreamColour, picture_ref};

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
    pub(super) fn open(frame_size_limit: u32, filters: LoopFilters) -> Result<Self, Av1Error> {
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
        settings.inloop_filters = match filters {
            LoopFilters::Apply => DAV1D_INLOOPFILTER_ALL,
            LoopFilters::Skip => DAV1D_INLOOPFILTER_NONE,
        };
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
