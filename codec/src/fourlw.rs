//! Four-letter words: the first 4 bytes of a connection, read as a big-endian int, compared with
//! the known commands before any handshake.

/// The known four-letter words (zk-protocol-reference.md §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FourLetterWord {
    Conf,
    Cons,
    Crst,
    Dirs,
    Dump,
    Envi,
    Gtmk,
    Ruok,
    Stmk,
    Srst,
    Srvr,
    Stat,
    Wchc,
    Wchp,
    Wchs,
    Mntr,
    Isro,
    Hash,
}

impl FourLetterWord {
    /// Every word, in ZooKeeper's documentation order.
    pub const ALL: [FourLetterWord; 18] = [
        FourLetterWord::Conf,
        FourLetterWord::Cons,
        FourLetterWord::Crst,
        FourLetterWord::Dirs,
        FourLetterWord::Dump,
        FourLetterWord::Envi,
        FourLetterWord::Gtmk,
        FourLetterWord::Ruok,
        FourLetterWord::Stmk,
        FourLetterWord::Srst,
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
        FourLetterWord::Wchs,
        FourLetterWord::Mntr,
        FourLetterWord::Isro,
        FourLetterWord::Hash,
    ];

    /// The four ASCII letters.
    pub const fn as_str(self) -> &'static str {
        match self {
            FourLetterWord::Conf => "conf",
            FourLetterWord::Cons => "cons",
            FourLetterWord::Crst => "crst",
            FourLetterWord::Dirs => "dirs",
            FourLetterWord::Dump => "dump",
            FourLetterWord::Envi => "envi",
            FourLetterWord::Gtmk => "gtmk",
            FourLetterWord::Ruok => "ruok",
            FourLetterWord::Stmk => "stmk",
            FourLetterWord::Srst => "srst",
            FourLetterWord::Srvr => "srvr",
            FourLetterWord::Stat => "stat",
            FourLetterWord::Wchc => "wchc",
            FourLetterWord::Wchp => "wchp",
            FourLetterWord::Wchs => "wchs",
            FourLetterWord::Mntr => "mntr",
            FourLetterWord::Isro => "isro",
            FourLetterWord::Hash => "hash",
        }
    }

    /// Parses a word by name (for whitelists); case-sensitive like ZooKeeper.
    pub fn from_name(name: &str) -> Option<FourLetterWord> {
        FourLetterWord::ALL.into_iter().find(|w| w.as_str() == name)
    }
}

/// Recognises a four-letter word from the first 4 bytes of a connection.
pub fn sniff(first: [u8; 4]) -> Option<FourLetterWord> {
    FourLetterWord::ALL
        .into_iter()
        .find(|w| w.as_str().as_bytes() == first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_known_words_only() {
        assert_eq!(sniff(*b"ruok"), Some(FourLetterWord::Ruok));
        assert_eq!(sniff(*b"mntr"), Some(FourLetterWord::Mntr));
        assert_eq!(sniff(*b"RUOK"), None);
        assert_eq!(sniff([0, 0, 0, 45]), None);
        assert_eq!(u32::from_be_bytes(*b"ruok"), 0x72756f6b);
    }
}
