//! Storage for task coroutines without one allocator call per task.
//!
//! Every task's coroutine used to live in its own `Box<dyn Future>`. Here
//! coroutines of one size and alignment share a pool: slots are carved from
//! chunks that grow geometrically, and a finished task's slot is reused by
//! the next task of the same layout. A run creates tasks of one or two types,
//! so a task costs a bump or a free-list pop instead of `malloc` and `free`,
//! carries no allocator header, and tasks created one after the other sit
//! next to each other in memory, in the order the loop first steps them.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// How to poll and drop a coroutine of one concrete type.
struct VTable {
    poll: unsafe fn(NonNull<u8>) -> Poll<()>,
    drop: unsafe fn(NonNull<u8>),
    layout: Layout,
}

/// # Safety
/// `ptr` must point to a live, pinned `F` (written by [`CoroPool::insert`]
/// and not yet dropped).
unsafe fn poll_as<F: Future<Output = ()>>(ptr: NonNull<u8>) -> Poll<()> {
    let mut cx = Context::from_waker(Waker::noop());
    // SAFETY: by this function's contract `ptr` is a live `F`; it never moves
    // until `drop_as` (the pool never moves or reuses an occupied slot), so
    // pinning it is sound, and nothing else references it during the poll.
    let fut = unsafe { Pin::new_unchecked(&mut *ptr.cast::<F>().as_ptr()) };
    fut.poll(&mut cx)
}

/// # Safety
/// `ptr` must point to a live `F`; it is dead afterwards.
unsafe fn drop_as<F>(ptr: NonNull<u8>) {
    // SAFETY: by this function's contract `ptr` is a live, properly aligned
    // `F` that is dropped exactly once.
    unsafe { std::ptr::drop_in_place(ptr.cast::<F>().as_ptr()) }
}

/// A task's coroutine in a [`CoroPool`]: a pointer and how to poll and drop
/// what it points to. Copying it does not copy the coroutine.
#[derive(Clone, Copy)]
pub(crate) struct Coro {
    ptr: NonNull<u8>,
    vtable: &'static VTable,
    type_index: u8,
}

impl Coro {
    /// Poll the coroutine once (with a no-op waker: the loop tracks wake-ups
    /// itself).
    ///
    /// # Safety
    /// The coroutine must not have been dropped, and no other poll or drop
    /// of it may be in progress.
    #[inline]
    pub(crate) unsafe fn poll(self) -> Poll<()> {
        // SAFETY: forwarded from this function's contract.
        unsafe { (self.vtable.poll)(self.ptr) }
    }

    /// Drop the coroutine in place; its slot must then go back to the pool
    /// with [`CoroPool::recycle`].
    ///
    /// # Safety
    /// The coroutine must not have been dropped and must not be in the
    /// middle of a poll.
    #[inline]
    pub(crate) unsafe fn drop_in_place(self) {
        // SAFETY: forwarded from this function's contract.
        unsafe { (self.vtable.drop)(self.ptr) }
    }
}

/// Most coroutine types a pool holds (a strategy has two or three).
const MAX_TYPES: usize = 256;

impl Coro {
    /// The coroutine's address and its type's index in its pool, to store
    /// compactly (see [`CoroPool::get`]).
    #[inline]
    pub(crate) fn into_parts(self) -> (NonNull<u8>, u8) {
        (self.ptr, self.type_index)
    }

    /// Ask the CPU to fetch the coroutine's memory into cache (a hint: the
    /// loop knows which task runs next well before it runs).
    #[inline]
    pub(crate) fn prefetch(self) {
        let size = self.vtable.layout.size();
        let base = self.ptr.as_ptr().cast_const();
        let mut offset = 0;
        while offset < size {
            super::event_loop::prefetch(base.wrapping_add(offset));
            offset += 64;
        }
    }
}

impl std::fmt::Debug for Coro {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coro({:p}, {:?})", self.ptr, self.vtable.layout)
    }
}

/// Slots of one layout.
struct Class {
    layout: Layout,
    /// Bytes per slot: the layout's size, at least a pointer (a free slot
    /// holds the link to the next free one), in multiples of its alignment.
    slot_size: usize,
    /// Slots of dropped coroutines, reused first (last freed, first reused):
    /// a list threaded through the free slots themselves.
    free: Option<NonNull<u8>>,
    /// Unused tail of the newest chunk.
    next: *mut u8,
    end: *mut u8,
    /// Every chunk allocated, for deallocation.
    chunks: Vec<(NonNull<u8>, Layout)>,
    /// Standard chunks allocated (the rest are large ones).
    standard_chunks: usize,
}

/// Bytes per standard chunk. Coroutines larger than this (or aligned to
/// more than [`CHUNK_ALIGN`]) get chunks of their own size, which are not
/// kept.
const CHUNK_BYTES: usize = 64 * 1024;
const CHUNK_ALIGN: usize = 64;
/// The layout of every standard chunk, whatever the slot size.
const CHUNK: Layout = match Layout::from_size_align(CHUNK_BYTES, CHUNK_ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("CHUNK_BYTES and CHUNK_ALIGN form a valid layout"),
};
/// Standard chunks a thread keeps for its next runs when a run ends (32 MiB):
/// a sweep reuses them instead of having the allocator return pages to the
/// system and fault fresh zeroed ones in for every run.
const MAX_SPARE_CHUNKS: usize = 512;
/// A class takes this many standard chunks, then large ones: a run with
/// millions of live tasks makes a few hundred allocations instead of tens of
/// thousands, each large enough for the system to back with huge pages.
const STANDARD_CHUNKS_PER_CLASS: usize = MAX_SPARE_CHUNKS;
const LARGE_CHUNK: Layout = match Layout::from_size_align(4 << 20, CHUNK_ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("large chunks form a valid layout"),
};

/// Standard chunks freed by finished runs on this thread.
struct SpareChunks(Vec<NonNull<u8>>);

impl Drop for SpareChunks {
    fn drop(&mut self) {
        for &chunk in &self.0 {
            // SAFETY: spare chunks were allocated with `CHUNK` by
            // `Class::grow` and are owned by this list alone.
            unsafe { dealloc(chunk.as_ptr(), CHUNK) };
        }
    }
}

thread_local! {
    static SPARE: std::cell::RefCell<SpareChunks> =
        const { std::cell::RefCell::new(SpareChunks(Vec::new())) };
}

/// Free this thread's spare chunks.
pub(crate) fn free_spare_chunks() {
    let spare =
        SPARE.try_with(|s| std::mem::replace(&mut *s.borrow_mut(), SpareChunks(Vec::new())));
    drop(spare);
}

/// Coroutine storage for one run. Dropping the pool frees its chunks but
/// not the coroutines still in them: the loop drops those first.
pub(crate) struct CoroPool {
    classes: Vec<Class>,
    /// Every coroutine type pooled, by the index a
    /// [`TaskSlot`](super::task::TaskSlot) stores in one byte instead of the
    /// vtable's 8-byte address, and the class of its slots. A table of all
    /// 256 indices a byte can hold (those past `type_count` unused), so a
    /// lookup needs no bounds test: one per step and one per finished task.
    types: Box<[TypeEntry; MAX_TYPES]>,
    /// Types registered so far.
    type_count: usize,
}

/// A coroutine type of a [`CoroPool`]: how to poll and drop it, and the
/// class its slots come from.
#[derive(Clone, Copy)]
struct TypeEntry {
    vtable: &'static VTable,
    class: usize,
}

/// What the unused entries of [`CoroPool::types`] hold: never called, since
/// only registered indices are stored.
static NO_TYPE: VTable = VTable {
    poll: no_type,
    drop: no_type_drop,
    layout: Layout::new::<()>(),
};

unsafe fn no_type(_: NonNull<u8>) -> Poll<()> {
    unreachable!("a coroutine of an unregistered type")
}

unsafe fn no_type_drop(_: NonNull<u8>) {
    unreachable!("a coroutine of an unregistered type")
}

impl Default for CoroPool {
    fn default() -> Self {
        CoroPool {
            classes: Vec::new(),
            types: Box::new(
                [TypeEntry {
                    vtable: &NO_TYPE,
                    class: 0,
                }; MAX_TYPES],
            ),
            type_count: 0,
        }
    }
}

impl std::fmt::Debug for CoroPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoroPool")
            .field("classes", &self.classes.len())
            .finish()
    }
}

impl CoroPool {
    /// Move `fut` into a slot; it stays there, pinned, until
    /// [`Coro::drop_in_place`].
    #[inline]
    pub(crate) fn insert<F: Future<Output = ()> + 'static>(&mut self, fut: F) -> Coro {
        let vtable: &'static VTable = const {
            &VTable {
                poll: poll_as::<F>,
                drop: drop_as::<F>,
                layout: Layout::new::<F>(),
            }
        };
        let type_index = self.type_index(vtable);
        let ptr = self.slot(type_index);
        // SAFETY: `slot` returns memory valid for writes of `layout`
        // (= `Layout::new::<F>()`), properly aligned and not occupied.
        unsafe { ptr.cast::<F>().as_ptr().write(fut) };
        Coro {
            ptr,
            vtable,
            type_index,
        }
    }

    /// The coroutine [`Coro::into_parts`] split.
    #[inline]
    pub(crate) fn get(&self, ptr: NonNull<u8>, type_index: u8) -> Coro {
        Coro {
            ptr,
            vtable: self.types[usize::from(type_index)].vtable,
            type_index,
        }
    }

    #[inline(always)]
    fn type_index(&mut self, vtable: &'static VTable) -> u8 {
        match self.types[..self.type_count]
            .iter()
            .position(|t| std::ptr::eq(t.vtable, vtable))
        {
            // `types` holds at most `MAX_TYPES` (256) entries.
            Some(i) => i as u8,
            None => self.new_type(vtable),
        }
    }

    /// The first coroutine of its type: register the type.
    #[cold]
    fn new_type(&mut self, vtable: &'static VTable) -> u8 {
        assert!(self.type_count < MAX_TYPES, "more than 256 coroutine types");
        let class = self.class(vtable.layout);
        let index = self.type_count;
        self.types[index] = TypeEntry { vtable, class };
        self.type_count += 1;
        u8::try_from(index).expect("fewer than 256 types")
    }

    /// Return a dropped coroutine's slot for reuse.
    #[inline]
    pub(crate) fn recycle(&mut self, coro: Coro) {
        let layout = coro.vtable.layout;
        if layout.size() == 0 {
            return;
        }
        // SAFETY: the layout is not zero-sized (tested above).
        let c = unsafe { self.class_of(coro.type_index) };
        let link = c.free.map_or(std::ptr::null_mut(), NonNull::as_ptr);
        // SAFETY: the slot is at least a pointer wide (`slot_size`), owned by
        // this class and no longer occupied (its coroutine was dropped).
        unsafe { coro.ptr.as_ptr().cast::<*mut u8>().write_unaligned(link) };
        c.free = Some(coro.ptr);
    }

    #[inline]
    fn class(&mut self, layout: Layout) -> usize {
        match self.classes.iter().position(|c| c.layout == layout) {
            Some(i) => i,
            None => {
                let slot_size = layout
                    .size()
                    .max(std::mem::size_of::<*mut u8>())
                    .next_multiple_of(layout.align());
                self.classes.push(Class {
                    layout,
                    slot_size,
                    free: None,
                    next: std::ptr::null_mut(),
                    end: std::ptr::null_mut(),
                    chunks: Vec::new(),
                    standard_chunks: 0,
                });
                self.classes.len() - 1
            }
        }
    }

    /// The class of a registered type's slots, without a bounds test (one
    /// per coroutine made and one per coroutine freed).
    ///
    /// # Safety
    /// `type_index` was registered ([`CoroPool::insert`] gave it), which
    /// gave it a class in `classes`, which never shrinks. A type whose
    /// layout is not zero-sized was: the table's unused entries are
    /// zero-sized.
    #[inline(always)]
    unsafe fn class_of(&mut self, type_index: u8) -> &mut Class {
        let class = self.types[usize::from(type_index)].class;
        debug_assert!(
            class < self.classes.len(),
            "class {class} of {}",
            self.classes.len()
        );
        // SAFETY: in bounds, by the caller's promise (above).
        unsafe { self.classes.get_unchecked_mut(class) }
    }

    /// An unoccupied slot for a coroutine of type `type_index`.
    #[inline(always)]
    fn slot(&mut self, type_index: u8) -> NonNull<u8> {
        let layout = self.types[usize::from(type_index)].vtable.layout;
        if layout.size() == 0 {
            // A zero-sized coroutine needs no memory, only an aligned
            // address.
            return NonNull::<u8>::dangling().with_addr(
                std::num::NonZeroUsize::new(layout.align()).expect("alignments are non-zero"),
            );
        }
        // SAFETY: the layout is not zero-sized (tested above).
        let c = unsafe { self.class_of(type_index) };
        if let Some(ptr) = c.free {
            // SAFETY: a free slot holds the link written by `recycle`.
            let link = unsafe { ptr.as_ptr().cast::<*mut u8>().read_unaligned() };
            c.free = NonNull::new(link);
            return ptr;
        }
        if c.next == c.end {
            c.grow();
        }
        let ptr = c.next;
        c.next = ptr.wrapping_add(c.slot_size);
        NonNull::new(ptr).expect("chunks are non-null")
    }
}

impl Class {
    /// Allocate the next chunk.
    #[cold]
    fn grow(&mut self) {
        // Slots are multiples of the alignment, laid end to end from a
        // start aligned to at least that, so each stays aligned.
        let standard = self.slot_size <= CHUNK_BYTES && self.layout.align() <= CHUNK_ALIGN;
        let layout = if !standard {
            Layout::from_size_align(self.slot_size, self.layout.align())
                .expect("a slot is a valid layout")
        } else if self.standard_chunks < STANDARD_CHUNKS_PER_CLASS {
            self.standard_chunks += 1;
            CHUNK
        } else {
            LARGE_CHUNK
        };
        let spare = if layout == CHUNK {
            SPARE.with_borrow_mut(|s| s.0.pop())
        } else {
            None
        };
        let chunk = match spare {
            Some(chunk) => chunk,
            None => {
                // SAFETY: `layout` has a non-zero size (a chunk, or a slot
                // of a non-zero size).
                let raw = unsafe { alloc(layout) };
                match NonNull::new(raw) {
                    Some(chunk) => chunk,
                    None => handle_alloc_error(layout),
                }
            }
        };
        self.chunks.push((chunk, layout));
        let slots = layout.size() / self.slot_size;
        self.next = chunk.as_ptr();
        self.end = self.next.wrapping_add(slots * self.slot_size);
    }
}

impl Drop for CoroPool {
    fn drop(&mut self) {
        // `try_with`: when the thread is exiting the spare list may be gone.
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            for class in &mut self.classes {
                class.chunks.retain(|&(chunk, layout)| {
                    let keep = layout == CHUNK && spare.0.len() < MAX_SPARE_CHUNKS;
                    if keep {
                        spare.0.push(chunk);
                    }
                    !keep
                });
            }
        });
        for class in &self.classes {
            for &(chunk, layout) in &class.chunks {
                // SAFETY: each chunk was allocated by `Class::grow` with
                // exactly this layout, was not handed to the spare list, and
                // is freed once, here.
                unsafe { dealloc(chunk.as_ptr(), layout) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A future that counts its polls (+1) and drops (+100); the array
    /// gives it a size worth pooling.
    struct Counted(Rc<Cell<u32>>, [u64; 5]);

    impl Future for Counted {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            assert!(self.1.iter().all(|&x| x == self.1[0]), "payload intact");
            self.0.set(self.0.get() + 1);
            Poll::Ready(())
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 100);
        }
    }

    #[test]
    fn slots_are_polled_dropped_and_reused() {
        let hits = Rc::new(Cell::new(0));
        let mut pool = CoroPool::default();
        let mut live = Vec::new();
        for _ in 0..100 {
            live.push(pool.insert(Counted(hits.clone(), [7; 5])));
        }
        for c in &live {
            // SAFETY: each coroutine is live and polled once.
            assert_eq!(unsafe { c.poll() }, Poll::Ready(()));
        }
        assert_eq!(hits.get(), 100);
        let last = live.pop().unwrap();
        // SAFETY: `last` is live and not being polled.
        unsafe { last.drop_in_place() };
        pool.recycle(last);
        assert_eq!(hits.get(), 200);
        let again = pool.insert(Counted(hits.clone(), [1; 5]));
        assert_eq!(again.ptr, last.ptr, "the freed slot is reused");
        live.push(again);
        for c in live {
            // SAFETY: every remaining coroutine is live.
            unsafe { c.drop_in_place() };
        }
        assert_eq!(hits.get(), 200 + 100 * 100);
        // Zero-sized coroutines take no slot.
        struct Zst;
        impl Future for Zst {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
                Poll::Ready(())
            }
        }
        let z = pool.insert(Zst);
        assert_eq!(z.ptr.as_ptr() as usize % std::mem::align_of::<Zst>(), 0);
        // SAFETY: `z` is live.
        assert_eq!(unsafe { z.poll() }, Poll::Ready(()));
        // SAFETY: `z` is live and dropped once.
        unsafe { z.drop_in_place() };
        pool.recycle(z);
    }
}
