//! `asyncio.Queue` (`Lib/asyncio/queues.py`), holding request indices.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::event_loop::{State, with_loop};
use crate::memory::Obj;
use crate::memory::container::PyDeque;

/// The item that stands for Python's `None` sentinel.
const NONE: u64 = u64::MAX;

/// A queue's state in the loop.
#[derive(Debug)]
pub(crate) struct QueueState {
    maxsize: usize,
    items: VecDeque<u64>,
    items_deque: PyDeque,
    /// Futures of blocked `get()` calls, oldest first.
    getters: VecDeque<u32>,
    /// Futures of blocked `put()` calls, oldest first.
    putters: VecDeque<u32>,
}

impl QueueState {
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

/// `asyncio.Queue(maxsize)` of request indices (`Option<u64>`, `None` being
/// the sentinel a producer sends to stop a worker).
///
/// * `put()` on a full queue waits (`while self.full(): await putter`);
///   `get()` on an empty one waits likewise. A woken waiter re-checks, so a
///   task that calls `get()` on a non-empty queue in the meantime takes the
///   item first, as in CPython.
/// * `put_nowait` wakes the oldest getter, `get_nowait` the oldest putter
///   (`_wakeup_next` pops the waiter off its deque).
#[derive(Clone, Copy, Debug)]
pub struct Queue {
    id: u32,
}

impl Queue {
    /// `asyncio.Queue(maxsize)` (`0`: unbounded).
    pub fn new(maxsize: usize) -> Self {
        with_loop(|st| {
            // The Queue object, its three deques (items, getters, putters)
            // and its `_finished` Event, which holds a deque of its own: two
            // semaphore-sized objects and four deques. (tracemalloc, each
            // version: a Queue 3,265-3,282 bytes, this 3,216-3,232;
            // `profiles/probe_memory.py sizes`.)
            let p = &st.config.profile;
            let bytes = 2 * p.semaphore + 4 * p.deque;
            st.mem.alloc(bytes);
            st.queues.push(QueueState {
                maxsize,
                items: VecDeque::new(),
                items_deque: PyDeque::default(),
                getters: VecDeque::new(),
                putters: VecDeque::new(),
            });
            Queue {
                id: (st.queues.len() - 1) as u32,
            }
        })
    }

    /// `await q.put(item)`.
    pub fn put(self, item: Option<u64>) -> Put {
        Put {
            queue: self.id,
            item: item.unwrap_or(NONE),
            fut: None,
            started: false,
        }
    }

    /// `await q.get()`.
    pub fn get(self) -> Get {
        Get {
            queue: self.id,
            fut: None,
            started: false,
        }
    }

    /// `q.qsize()`.
    pub fn qsize(self) -> usize {
        with_loop(|st| st.queues[self.id as usize].items.len())
    }
}

impl State {
    /// `Queue._wakeup_next(waiters)`: pop the oldest waiter and resolve it.
    #[inline(always)]
    fn queue_wakeup(&mut self, fut: Option<u32>) {
        if let Some(fut) = fut
            && !self.futures.done(fut)
        {
            self.set_result(fut);
        }
    }

    fn queue_put_nowait(&mut self, q: u32, item: u64) {
        let s = &mut self.queues[q as usize];
        s.items.push_back(item);
        s.items_deque.push_back(&mut self.mem);
        let getter = s.getters.pop_front();
        self.queue_wakeup(getter);
    }

    fn queue_get_nowait(&mut self, q: u32) -> u64 {
        let s = &mut self.queues[q as usize];
        let item = s
            .items
            .pop_front()
            .expect("get_nowait on a non-empty queue");
        s.items_deque.pop_front(&mut self.mem);
        let putter = s.putters.pop_front();
        self.queue_wakeup(putter);
        item
    }
}

/// The future returned by [`Queue::put`].
#[derive(Debug)]
pub struct Put {
    queue: u32,
    item: u64,
    fut: Option<u32>,
    started: bool,
}

impl Future for Put {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let (q, item, prev, started) = (self.queue, self.item, self.fut, self.started);
        let next = with_loop(|st| {
            if !started {
                st.charge(st.config.cpu.semaphore);
                st.alloc(Obj::AcquireCoroutine);
            }
            if let Some(fut) = prev {
                if !st.futures.done(fut) {
                    return Some(fut);
                }
                st.drop_future(fut);
            }
            if st.queues[q as usize].full() {
                st.charge(st.config.cpu.wait);
                let fut = st.await_new_future();
                st.queues[q as usize].putters.push_back(fut);
                return Some(fut);
            }
            st.queue_put_nowait(q, item);
            st.free(Obj::AcquireCoroutine);
            None
        });
        self.started = true;
        match next {
            Some(fut) => {
                self.fut = Some(fut);
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

/// The future returned by [`Queue::get`].
#[derive(Debug)]
pub struct Get {
    queue: u32,
    fut: Option<u32>,
    started: bool,
}

impl Future for Get {
    type Output = Option<u64>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let (q, prev, started) = (self.queue, self.fut, self.started);
        let next = with_loop(|st| {
            if !started {
                st.charge(st.config.cpu.semaphore);
                st.alloc(Obj::AcquireCoroutine);
            }
            if let Some(fut) = prev {
                if !st.futures.done(fut) {
                    return Err(fut);
                }
                st.drop_future(fut);
            }
            if st.queues[q as usize].items.is_empty() {
                st.charge(st.config.cpu.wait);
                let fut = st.await_new_future();
                st.queues[q as usize].getters.push_back(fut);
                return Err(fut);
            }
            let item = st.queue_get_nowait(q);
            st.free(Obj::AcquireCoroutine);
            Ok(item)
        });
        self.started = true;
        match next {
            Err(fut) => {
                self.fut = Some(fut);
                Poll::Pending
            }
            Ok(item) => Poll::Ready((item != NONE).then_some(item)),
        }
    }
}
