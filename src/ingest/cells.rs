//! The cell dictionary: interned combinations of dimension values.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::event::{CellId, DimKey};
use crate::value::Value;

/// Above this many distinct combinations the dimensions are not
/// low-cardinality, and new combinations are rejected as `invalid_field`
/// rather than growing every pane without bound.
pub const MAX_CELLS: usize = 1 << 16;

/// Written only by admission (one thread); read by the planner, which
/// evaluates WHERE and GROUP BY once per cell. New cells are rare, so the
/// shared list is behind a lock that ingest touches only when one appears.
#[derive(Debug, Default)]
pub struct CellInterner {
    /// Encoded dimension values ([`DimKey`]) → cell. Keyed by bytes so a
    /// lookup needs no allocation; SipHash (keyed per process) because the
    /// bytes come from input.
    ids: HashMap<Box<[u8]>, CellId>,
    shared: Arc<RwLock<Vec<Arc<[Value]>>>>,
}

impl CellInterner {
    /// The id of a combination, interning it if new; `None` past [`MAX_CELLS`].
    pub fn intern(&mut self, dims: &DimKey) -> Option<CellId> {
        if let Some(&id) = self.ids.get(dims.as_bytes()) {
            return Some(id);
        }
        if self.ids.len() >= MAX_CELLS {
            return None;
        }
        let id = self.ids.len() as CellId;
        let values: Arc<[Value]> = dims.values().into();
        self.ids.insert(dims.as_bytes().into(), id);
        match self.shared.write() {
            Ok(mut list) => list.push(values),
            Err(poisoned) => poisoned.into_inner().push(values),
        }
        Some(id)
    }

    /// A handle for readers (the planner).
    pub fn dictionary(&self) -> CellDictionary {
        CellDictionary(self.shared.clone())
    }
}

/// Read side of the cell dictionary.
#[derive(Debug, Clone, Default)]
pub struct CellDictionary(Arc<RwLock<Vec<Arc<[Value]>>>>);

impl CellDictionary {
    /// How many cells are interned.
    pub fn len(&self) -> usize {
        match self.0.read() {
            Ok(list) => list.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every cell's dimension values, indexed by [`CellId`].
    pub fn snapshot(&self) -> Vec<Arc<[Value]>> {
        match self.0.read() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl CellInterner {
    /// Every cell's encoded dimension values, in id order (a checkpoint's).
    pub fn keys(&self) -> Vec<&[u8]> {
        let mut keys: Vec<(CellId, &[u8])> = self.ids.iter().map(|(k, &id)| (id, &k[..])).collect();
        keys.sort_unstable_by_key(|(id, _)| *id);
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// Replaces every cell with `keys` (from [`CellInterner::keys`]), in
    /// order, so each gets its id back; readers see the new list.
    pub fn restore(&mut self, keys: &[impl AsRef<[u8]>]) -> Result<(), String> {
        if keys.len() > MAX_CELLS {
            return Err(format!(
                "{} cells, past the limit of {MAX_CELLS}",
                keys.len()
            ));
        }
        let mut dims = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            if !seen.insert(key.as_ref()) {
                return Err("a cell listed twice".into());
            }
            dims.push(DimKey::from_bytes(key.as_ref()).ok_or("a cell that does not decode")?);
        }
        self.ids.clear();
        match self.shared.write() {
            Ok(mut list) => list.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
        for d in &dims {
            self.intern(d);
        }
        Ok(())
    }
}
