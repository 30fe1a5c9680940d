//! The journal and transfer status machines. Every legal transition is in one `match` here.

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vdoc])* $variant, )* }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $( $text => Some($name::$variant), )* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// The ten journal statuses of the Broker API.
    JournalStatus {
        Queued = "queued",
        SentToClearing = "sent_to_clearing",
        Pending = "pending",
        Executed = "executed",
        ActivityCreated = "activity_created",
        Rejected = "rejected",
        Refused = "refused",
        Canceled = "canceled",
        Deleted = "deleted",
        Correct = "correct",
    }
);

impl JournalStatus {
    /// Whether a journal may move from `from` (`None`: it is being created) to `to`.
    ///
    /// - created `queued`, `pending` (held by a limit or fixture), or `executed` (JNLC v2 flow and
    ///   corrections, booked at once);
    /// - `queued -> sent_to_clearing -> executed`, with `refused` when the booking-time balance
    ///   check fails and `rejected` by operations (or a fixture at the end of the day);
    /// - `pending -> queued` on approval or release, `pending -> rejected | canceled`;
    /// - `queued -> canceled` by `DELETE`;
    /// - after `executed` (and `activity_created`, JNLC v2): `canceled` (reversed), `deleted`,
    ///   `correct` (replaced by a new journal).
    pub fn is_legal(from: Option<JournalStatus>, to: JournalStatus) -> bool {
        use JournalStatus::*;
        matches!(
            (from, to),
            (None, Queued | Pending | Executed)
                | (Some(Queued), SentToClearing | Canceled | Rejected)
                | (Some(Pending), Queued | Canceled | Rejected)
                | (Some(SentToClearing), Executed | Refused | Rejected)
                | (Some(Executed), ActivityCreated | Canceled | Deleted | Correct)
                | (Some(ActivityCreated), Canceled | Deleted | Correct)
        )
    }

    /// True when no transition leaves this status.
    pub fn is_final(self) -> bool {
        JournalStatus::ALL.iter().all(|&to| !JournalStatus::is_legal(Some(self), to))
    }

    /// True when the journal's postings are on the books.
    pub fn is_booked(self) -> bool {
        matches!(self, JournalStatus::Executed | JournalStatus::ActivityCreated)
    }
}

named_enum!(
    /// The Broker API's transfer statuses.
    TransferStatus {
        Queued = "QUEUED",
        ApprovalPending = "APPROVAL_PENDING",
        Pending = "PENDING",
        SentToClearing = "SENT_TO_CLEARING",
        Rejected = "REJECTED",
        Canceled = "CANCELED",
        Approved = "APPROVED",
        Complete = "COMPLETE",
        Returned = "RETURNED",
    }
);

impl TransferStatus {
    /// Cashier's transfers are created `QUEUED` and end `COMPLETE`, `CANCELED` or `REJECTED`; a
    /// completed one the bank sends back becomes `RETURNED`.
    pub fn is_legal(from: Option<TransferStatus>, to: TransferStatus) -> bool {
        use TransferStatus::*;
        matches!((from, to), (None, Queued) | (Some(Queued), Complete | Canceled | Rejected) | (Some(Complete), Returned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JournalStatus::*;

    #[test]
    fn finals() {
        let finals: Vec<_> = JournalStatus::ALL.iter().copied().filter(|s| s.is_final()).collect();
        assert_eq!(finals, vec![Rejected, Refused, Canceled, Deleted, Correct]);
    }

    #[test]
    fn names_round_trip() {
        for &s in JournalStatus::ALL {
            assert_eq!(JournalStatus::parse(s.as_str()), Some(s));
        }
        for &s in TransferStatus::ALL {
            assert_eq!(TransferStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JournalStatus::parse("EXECUTED"), None);
    }
}
