//! Working memory renders pass on to the next: pixmaps and encoder buffers, kept within one
//! byte budget shared by every render thread, so that neither the number of threads nor a
//! rare huge render decides how much stays allocated.
//!
//! Reusing them spares each render allocating (and the kernel zeroing) megabytes that are
//! freed again a few milliseconds later, beside the long-lived caches, which fragments the
//! heap until the process holds far more than the caches' budget.

use std::sync::Mutex;

use crate::encode::Buffers;
use crate::raster::Canvas;

/// Bytes of pixmaps and buffers kept between renders, at most: a few pixmaps of the usual
/// sizes (1200x630 is 3 MB, 1200x848 4 MB) and their buffers, so that cards of two sizes in
/// turn each find theirs (a new pixmap costs a card 2 to 5 ms of page faults).
pub const SCRATCH_BUDGET: usize = 16 * 1024 * 1024;

/// Largest pixmap kept: larger ones (`scale=2`, say) are allocated per render, so that a rare
/// one does not push out the pixmaps of the usual sizes.
const KEEP_PIXMAP_BYTES: usize = SCRATCH_BUDGET / 4;

/// Largest single encoder buffer kept; a larger one (a rare huge render's) is freed.
const KEEP_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Pixmaps and buffers left by finished renders, newest last.
#[derive(Default)]
pub struct Scratch {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    pixmaps: Vec<Canvas>,
    buffers: Vec<Buffers>,
}

impl Kept {
    fn bytes(&self) -> usize {
        let pixmaps: usize = self.pixmaps.iter().map(|c| c.pixmap.data().len()).sum();
        let buffers: usize = self.buffers.iter().map(Buffers::capacity).sum();
        pixmaps + buffers
    }
}

impl Scratch {
    /// A kept canvas of `width` x `height`, if there is one.
    pub fn canvas(&self, width: u32, height: u32) -> Option<Canvas> {
        let mut kept = self.lock();
        let fits = |c: &Canvas| c.pixmap.width() == width && c.pixmap.height() == height;
        let at = kept.pixmaps.iter().rposition(fits)?;
        Some(kept.pixmaps.remove(at))
    }

    /// Kept encoder buffers, or new ones.
    pub fn buffers(&self) -> Buffers {
        self.lock().buffers.pop().unwrap_or_default()
    }

    /// Keeps a render's canvas and buffers for the next, dropping the oldest canvases beyond
    /// the budget.
    pub fn keep(&self, canvas: Canvas, mut buffers: Buffers) {
        buffers.trim(KEEP_BUFFER_BYTES);
        let mut kept = self.lock();
        kept.buffers.push(buffers);
        if canvas.pixmap.data().len() <= KEEP_PIXMAP_BYTES {
            kept.pixmaps.push(canvas);
        }
        while kept.bytes() > SCRATCH_BUDGET && !kept.pixmaps.is_empty() {
            kept.pixmaps.remove(0);
        }
        while kept.bytes() > SCRATCH_BUDGET && !kept.buffers.is_empty() {
            kept.buffers.remove(0);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiny_skia::Pixmap;

    #[test]
    fn what_is_kept_stays_within_the_budget_newest_first() {
        let scratch = Scratch::default();
        // 1200x630 is 3 MB: five fit in 16 MiB, the sixth pushes the oldest out.
        for _ in 0..6 {
            let canvas = Pixmap::new(1200, 630).unwrap().into();
            scratch.keep(canvas, Buffers::default());
        }
        assert_eq!(scratch.lock().pixmaps.len(), 5);
        // A pixmap over a quarter of the budget is not kept, and pushes nothing out.
        scratch.keep(Pixmap::new(2400, 1260).unwrap().into(), Buffers::default());
        assert!(scratch.lock().bytes() <= SCRATCH_BUDGET);
        assert_eq!(scratch.lock().pixmaps.len(), 5);
        assert!(scratch.canvas(2400, 1260).is_none());
        assert!(scratch.canvas(1200, 630).is_some());
        assert!(scratch.canvas(1200, 631).is_none());
    }
}
