//! Running database work on the workers' blocking threads, within the acquire timeout.
//!
//! There are only as many blocking threads as connections (see `startup`), so work may queue for
//! a thread. Work still queued when `DB_ACQUIRE_TIMEOUT_MS` runs out is abandoned: it never runs,
//! and the request answers 503. Work that has started runs to its end (its statements are bounded
//! by the statement timeout), and its result is the answer. So a request that got an error never
//! changes anything afterwards.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use actix_web::web;
use store::{Store, StoreError};

use crate::problem::ApiError;

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// Runs `work` on a blocking thread, unless it waited for one longer than the acquire timeout.
pub async fn run<T: Send + 'static>(
    store: &web::Data<Store>,
    work: impl FnOnce(&Store) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let state = Arc::new(AtomicU8::new(QUEUED));
    let task = {
        let (state, store) = (Arc::clone(&state), store.clone());
        // Counted in `db_pool_waiting` until a thread takes it.
        let waiting = store.waiting();
        web::block(move || {
            drop(waiting);
            let start =
                state.compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire);
            start.is_ok().then(|| work(&store))
        })
    };
    let mut task = Box::pin(task);
    let outcome = match tokio::time::timeout(store.acquire_timeout(), &mut task).await {
        Ok(outcome) => outcome?,
        Err(_) => {
            let abandon =
                state.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire);
            if abandon.is_ok() {
                return Err(StoreError::Unavailable(
                    "no database thread became free within the acquire timeout".to_owned(),
                )
                .into());
            }
            // It has started: it runs to its end, and its result is the answer.
            task.await?
        }
    };
    outcome.ok_or_else(|| ApiError::internal("database work was abandoned but still awaited"))
}
