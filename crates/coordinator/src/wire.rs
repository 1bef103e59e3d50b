//! The matcher's types as the wire carries them.

use crate::matching::Change;
use signaalnet_proto::v1 as pb;

pub(crate) fn change_to_wire(change: Change) -> i32 {
    (match change {
        Change::Formed => pb::HitChange::Formed,
        Change::Grew => pb::HitChange::Grew,
        Change::Shrank => pb::HitChange::Shrank,
        Change::Dissolved => pb::HitChange::Dissolved,
        Change::Expired => pb::HitChange::Expired,
    }) as i32
}
