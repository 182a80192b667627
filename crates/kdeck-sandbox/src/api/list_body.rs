//! LIST responses streamed in chunks straight from the stored bytes: a 20,000-pod
//! list is never re-encoded, and never held in memory as one buffer.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::Value;

use super::body::Body;
use crate::store::Entry;

const CHUNK: usize = 64 * 1024;

/// Yields the list document in chunks of about [`CHUNK`] bytes.
struct Chunks {
    opening: Option<Vec<u8>>,
    items: std::vec::IntoIter<Entry>,
    first_item: bool,
    finished: bool,
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let mut chunk = BytesMut::with_capacity(CHUNK + 4096);
        if let Some(opening) = self.opening.take() {
            chunk.put_slice(&opening);
        }
        while chunk.len() < CHUNK {
            let Some(entry) = self.items.next() else {
                chunk.put_slice(b"]}");
                self.finished = true;
                break;
            };
            if !self.first_item {
                chunk.put_u8(b',');
            }
            self.first_item = false;
            chunk.put_slice(&entry.raw);
        }
        Some(chunk.freeze())
    }
}

/// `{"kind":…,"apiVersion":…,"metadata":…,"items":[…]}` from a head object and the items.
pub fn response(head: Value, items: Vec<Entry>) -> Response<Body> {
    let mut opening = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // The head is a non-empty object: reopen it to append the items array.
    opening.pop();
    opening.extend_from_slice(br#","items":["#);
    let chunks = Chunks { opening: Some(opening), items: items.into_iter(), first_item: true, finished: false };
    let frames = futures::stream::iter(chunks.map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b))));
    let mut resp = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::ResourceKey;
    use crate::store::Store;

    #[test]
    fn chunks_join_into_one_valid_list() {
        let store = Store::new();
        let key = ResourceKey::new("", "configmaps");
        for i in 0..3000 {
            store.create(&key, serde_json::json!({"metadata": {"name": format!("c{i:04}"), "namespace": "d"}, "data": {"k": "x".repeat(50)}})).unwrap();
        }
        let (items, _) = store.list(&key, None, None, |_| true);
        let chunks = Chunks { opening: Some(br#"{"kind":"ConfigMapList","items":["#.to_vec()), items: items.into_iter(), first_item: true, finished: false };
        let parts: Vec<Bytes> = chunks.collect();
        assert!(parts.len() > 1, "a large list is sent in several chunks");
        let joined: Vec<u8> = parts.concat();
        let list: Value = serde_json::from_slice(&joined).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 3000);
        assert_eq!(list["items"][2999]["metadata"]["name"], "c2999");
    }
}
