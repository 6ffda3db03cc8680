//! The card tables: magic cards that decline with a chosen bank code, fault cards that
//! break the transport on purpose, the official sandbox cards' 3D passwords, and the BIN
//! table that gives a card its issuer bank and card program (for installments).

/// Cards whose outcome is a fixed bank decline code (spec/simulator.md), with that code.
/// The 14th and 15th digits are the code.
pub const MAGIC_DECLINES: &[(&str, &str)] = &[
    ("4000000000000051", "05"),
    ("4000000000000127", "12"),
    ("4000000000000143", "14"),
    ("4000000000000416", "41"),
    ("4000000000000432", "43"),
    ("4000000000000515", "51"),
    ("4000000000000549", "54"),
    ("4000000000000572", "57"),
    ("4000000000000622", "62"),
    ("4000000000000820", "82"),
    ("4000000000000911", "91"),
    ("4000000000000960", "96"),
];

/// A transport fault the simulator produces on purpose, for reliability tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 4000000000009011: charges, then answers only after the configured slow delay.
    SlowAnswer,
    /// 4000000000009029: charges, then answers HTTP 500.
    ChargeThen500,
    /// 4000000000009037: does not charge, answers HTTP 500.
    NoCharge500,
    /// 4000000000009045: charges, answers a truncated, unparseable body.
    Truncated,
    /// 4000000000009052: charges, answers with a wrong `hashDataV2`.
    WrongHash,
    /// 4000000000009060: does not charge, closes the connection without an answer.
    DropConnection,
    /// 4000000000009078: does not charge and answers 503 on the first call for the card
    /// per merchant; approves normally afterwards.
    FirstCall503,
}

const FAULT_CARDS: &[(&str, Fault)] = &[
    ("4000000000009011", Fault::SlowAnswer),
    ("4000000000009029", Fault::ChargeThen500),
    ("4000000000009037", Fault::NoCharge500),
    ("4000000000009045", Fault::Truncated),
    ("4000000000009052", Fault::WrongHash),
    ("4000000000009060", Fault::DropConnection),
    ("4000000000009078", Fault::FirstCall503),
];

/// One of the official sandbox test cards (spec/nkolay.md): approved by the provider's
/// test service and by this simulator. Demos and benchmarks take their cards from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    /// The card number.
    pub number: &'static str,
    /// `MM`.
    pub expiry_month: &'static str,
    /// `YYYY`.
    pub expiry_year: &'static str,
    /// The CVV.
    pub cvv: &'static str,
    /// The issuing bank.
    pub bank: &'static str,
}

/// The official sandbox cards, in the order the provider publishes them.
pub const SANDBOX_CARDS: &[TestCard] = &[
    TestCard {
        number: "4546711234567894",
        expiry_month: "12",
        expiry_year: "2026",
        cvv: "000",
        bank: "Ziraat",
    },
    TestCard {
        number: "5200190006338608",
        expiry_month: "01",
        expiry_year: "2030",
        cvv: "410",
        bank: "Denizbank",
    },
    TestCard {
        number: "4355093000315232",
        expiry_month: "01",
        expiry_year: "2028",
        cvv: "264",
        bank: "Akbank",
    },
    TestCard {
        number: "5421190122090656",
        expiry_month: "04",
        expiry_year: "2028",
        cvv: "916",
        bank: "Vakıfbank",
    },
    TestCard {
        number: "4155650100416111",
        expiry_month: "01",
        expiry_year: "2030",
        cvv: "715",
        bank: "Finansbank",
    },
    TestCard {
        number: "5549603469426017",
        expiry_month: "11",
        expiry_year: "2027",
        cvv: "916",
        bank: "Garanti",
    },
    TestCard {
        number: "5101385101385104",
        expiry_month: "12",
        expiry_year: "2030",
        cvv: "000",
        bank: "TEB",
    },
    TestCard {
        number: "4555714555714556",
        expiry_month: "12",
        expiry_year: "2030",
        cvv: "000",
        bank: "ING",
    },
];

/// A sandbox card that stays valid longest: the one demos and benchmarks charge.
pub const DEMO_CARD: TestCard = SANDBOX_CARDS[6];

/// The 3D passwords published for the official sandbox cards (spec/nkolay.md). `123456`
/// passes for every card in addition.
const SANDBOX_3D_PASSWORDS: &[(&str, &str)] = &[
    ("5200190006338608", "123456"),
    ("4355093000315232", "123456"),
    ("5421190122090656", "123456"),
    ("5549603469426017", "147852"),
];

/// The SMS code that passes 3D authentication for any card.
pub const UNIVERSAL_3D_CODE: &str = "123456";

/// The decline code of a magic card, if `pan` is one.
pub fn magic_decline(pan: &str) -> Option<&'static str> {
    MAGIC_DECLINES
        .iter()
        .find(|(card, _)| *card == pan)
        .map(|(_, code)| *code)
}

/// The fault of a fault card, if `pan` is one.
pub fn fault(pan: &str) -> Option<Fault> {
    FAULT_CARDS
        .iter()
        .find(|(card, _)| *card == pan)
        .map(|(_, f)| *f)
}

/// The card's own published 3D password, if it is an official sandbox card.
pub fn sandbox_3d_password(pan: &str) -> Option<&'static str> {
    SANDBOX_3D_PASSWORDS
        .iter()
        .find(|(card, _)| *card == pan)
        .map(|(_, pw)| *pw)
}

/// What the bank says about a card once the payment reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Approved (bank code `00`).
    Approve,
    /// Declined with this two-digit bank code.
    Decline(&'static str),
}

/// Decides a card's outcome: a number failing the Luhn check is declined 14, a card
/// expired before the current Istanbul month 54, a magic card with its code, and
/// everything else (the official sandbox cards and the fault cards included) approved.
/// `expiry` and `now` are `(year, month)`.
pub fn decide(pan: &str, expiry: (u16, u8), now: (u16, u8)) -> Outcome {
    if !sanalpos_core::card::luhn_valid(pan) {
        return Outcome::Decline("14");
    }
    if expiry < now {
        return Outcome::Decline("54");
    }
    match magic_decline(pan) {
        Some(code) => Outcome::Decline(code),
        None => Outcome::Approve,
    }
}

/// A card program (`PROGRAM` in the installment answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The provider's three-digit code, e.g. `004`.
    pub code: &'static str,
    /// The program's name, e.g. `Bonus`.
    pub name: &'static str,
}

/// Every card program the provider lists, in its order.
pub const PROGRAMS: &[Program] = &[
    Program {
        code: "001",
        name: "Advantage",
    },
    Program {
        code: "002",
        name: "Axess",
    },
    Program {
        code: "003",
        name: "Bankkart",
    },
    Program {
        code: "004",
        name: "Bonus",
    },
    Program {
        code: "005",
        name: "CardFinans",
    },
    Program {
        code: "006",
        name: "Maximum",
    },
    Program {
        code: "007",
        name: "Miles&Smiles",
    },
    Program {
        code: "008",
        name: "Paraf",
    },
    Program {
        code: "009",
        name: "Sağlam Kart",
    },
    Program {
        code: "010",
        name: "World",
    },
    Program {
        code: "011",
        name: "Bank24",
    },
    Program {
        code: "012",
        name: "Param",
    },
    Program {
        code: "013",
        name: "Hasat Kart",
    },
    Program {
        code: "014",
        name: "Üreten Kart",
    },
    Program {
        code: "015",
        name: "Shop&Fly",
    },
    Program {
        code: "016",
        name: "Wings",
    },
    Program {
        code: "017",
        name: "Neo",
    },
    Program {
        code: "018",
        name: "Tosla",
    },
];

/// What the BIN table knows about a card: its issuer and its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinInfo {
    /// The issuer's Turkish EFT code, e.g. `062`.
    pub bank_code: &'static str,
    /// The issuer's name.
    pub bank_name: &'static str,
    /// The card program, which decides the installment options.
    pub program: Program,
}

const fn program(code: &'static str, name: &'static str) -> Program {
    Program { code, name }
}

const BANKKART: Program = program("003", "Bankkart");
const AXESS: Program = program("002", "Axess");
const BONUS: Program = program("004", "Bonus");
const WORLD: Program = program("010", "World");
const CARDFINANS: Program = program("005", "CardFinans");
const MAXIMUM: Program = program("006", "Maximum");
const PARAF: Program = program("008", "Paraf");

/// BIN prefix → issuer and program. The first six digits of the official sandbox cards
/// are here, plus a few well-known prefixes per bank. ING cards are mapped to Bonus.
const BIN_TABLE: &[(&str, &str, &str, Program)] = &[
    ("454671", "010", "T.C. Ziraat Bankası", BANKKART),
    ("520019", "134", "Denizbank", BONUS),
    ("435509", "046", "Akbank", AXESS),
    ("542119", "015", "Vakıfbank", WORLD),
    ("415565", "111", "QNB Finansbank", CARDFINANS),
    ("554960", "062", "Garanti BBVA", BONUS),
    ("510138", "032", "TEB", BONUS),
    ("455571", "099", "ING Bank", BONUS),
    ("540667", "064", "Türkiye İş Bankası", MAXIMUM),
    ("450803", "064", "Türkiye İş Bankası", MAXIMUM),
    ("540061", "067", "Yapı Kredi", WORLD),
    ("492186", "062", "Garanti BBVA", BONUS),
    ("552608", "046", "Akbank", AXESS),
    ("540130", "012", "Halkbank", PARAF),
];

/// Looks a card up by its first six digits (`digits` may be the first 8 or the whole
/// PAN). `None` for an unknown BIN, which gets single payment only.
pub fn bin_info(digits: &str) -> Option<BinInfo> {
    let bin = digits.get(..6)?;
    BIN_TABLE
        .iter()
        .find(|(prefix, _, _, _)| *prefix == bin)
        .map(|(_, bank_code, bank_name, program)| BinInfo {
            bank_code,
            bank_name,
            program: *program,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for (card, code) in MAGIC_DECLINES {
            assert_eq!(&card[13..15], *code, "{card}");
            assert!(sanalpos_core::CardNumber::parse(card).is_ok());
        }
        for (card, _) in FAULT_CARDS {
            assert!(sanalpos_core::CardNumber::parse(card).is_ok());
        }
        for (_, _, _, p) in BIN_TABLE {
            assert!(PROGRAMS.contains(p), "{}", p.name);
        }
    }

    #[test]
    fn sandbox_bins() {
        assert_eq!(bin_info("4546711234567894").unwrap().bank_code, "010");
        assert_eq!(bin_info("55496034").unwrap().program.code, "004");
        assert_eq!(bin_info("43550930").unwrap().program.name, "Axess");
        assert!(bin_info("40000000").is_none());
        assert!(bin_info("4000").is_none());
        assert_eq!(magic_decline("4000000000000515"), Some("51"));
        assert_eq!(fault("4000000000009060"), Some(Fault::DropConnection));
        assert_eq!(sandbox_3d_password("5549603469426017"), Some("147852"));
    }

    #[test]
    fn outcomes() {
        let now = (2026, 10);
        assert_eq!(
            decide("4546711234567894", (2030, 12), now),
            Outcome::Approve
        );
        assert_eq!(
            decide("4546711234567895", (2030, 12), now),
            Outcome::Decline("14")
        );
        assert_eq!(
            decide("4546711234567894", (2026, 9), now),
            Outcome::Decline("54")
        );
        assert_eq!(
            decide("4546711234567894", (2026, 10), now),
            Outcome::Approve
        );
        assert_eq!(
            decide("4000000000000051", (2030, 1), now),
            Outcome::Decline("05")
        );
        assert_eq!(decide("4000000000009052", (2030, 1), now), Outcome::Approve);
    }
}
