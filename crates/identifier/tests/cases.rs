//! Table-driven cases across all identifier kinds: real-world spellings that must normalise to
//! one form, and bad input that must be refused by the named rule without echoing the value.
#![allow(clippy::unwrap_used)] // test helpers panic on fixture errors

use signaalnet_identifier::{
    Address, Bsn, Day, Iban, Identifier, IdentifierError, OnlineHandle, Organisation, Person,
    Phone, Vehicle,
};

/// "Today" for the date checks of the table.
fn today() -> Day {
    Day::new(2026, 12, 1).unwrap()
}

/// Parses one case. `fields` are the inputs in the order of the kind's parse function.
fn parse(kind: &str, fields: &[&str]) -> Result<Identifier, IdentifierError> {
    let f = |i: usize| fields.get(i).copied().unwrap_or("");
    Ok(match kind {
        "bsn" => Identifier::Bsn(Bsn::parse(f(0))?),
        "person" => Identifier::Person(Person::parse(f(0), f(1), f(2), today())?),
        "address" => Identifier::Address(Address::parse_postal(f(0), f(1), f(2))?),
        "bag" => Identifier::Address(Address::parse_bag(f(0))?),
        "kvk" => Identifier::Organisation(Organisation::parse_kvk(f(0))?),
        "rsin" => Identifier::Organisation(Organisation::parse_rsin(f(0))?),
        "phone" => Identifier::Phone(Phone::parse(f(0))?),
        "iban" => Identifier::Iban(Iban::parse(f(0))?),
        "vehicle" => Identifier::Vehicle(Vehicle::parse(f(0), f(1))?),
        "online_handle" => Identifier::OnlineHandle(OnlineHandle::parse(f(0), f(1))?),
        other => panic!("unknown kind in table: {other}"),
    })
}

/// (kind, inputs, the first match key's value)
const VALID: &[(&str, &[&str], &str)] = &[
    // BSN
    ("bsn", &["111222333"], "111222333"),
    ("bsn", &["123456782"], "123456782"),
    ("bsn", &["1234.56.782"], "123456782"),
    ("bsn", &["1234 56 782"], "123456782"),
    ("bsn", &[" 123-456-782 "], "123456782"),
    ("bsn", &["010000008"], "010000008"),
    ("bsn", &["10000008"], "010000008"),
    ("bsn", &["071234561"], "071234561"),
    ("bsn", &["999999990"], "999999990"),
    // person
    (
        "person",
        &["de Vries", "Anna", "1990-03-14"],
        "full|vries|anna|1990-03-14",
    ),
    (
        "person",
        &["Vries, de", "Anna", "14-03-1990"],
        "full|vries|anna|1990-03-14",
    ),
    (
        "person",
        &["DE VRIES", "ANNA", "14/03/1990"],
        "full|vries|anna|1990-03-14",
    ),
    (
        "person",
        &["van der Berg", "Jan Pieter", "19850101"],
        "full|berg|jan|1985-01-01",
    ),
    (
        "person",
        &["v.d. Berg", "J.P.", "1985-01-01"],
        "initial|berg|j|1985-01-01",
    ),
    (
        "person",
        &["Jansen-van der Berg", "Maria", "1.2.1970"],
        "full|jansenberg|maria|1970-02-01",
    ),
    (
        "person",
        &["Wałęsa", "Łukasz", "1992-07-30"],
        "full|walesa|lukasz|1992-07-30",
    ),
    (
        "person",
        &["Walesa", "Lukasz", "30-07-1992"],
        "full|walesa|lukasz|1992-07-30",
    ),
    (
        "person",
        &["Țăranu", "Ștefan", "2001-12-24"],
        "full|taranu|stefan|2001-12-24",
    ),
    (
        "person",
        &["Ţăranu", "Şţefan", "2001-12-24"],
        "full|taranu|stefan|2001-12-24",
    ),
    (
        "person",
        &["Иванова", "Мария", "1988-05-06"],
        "full|ivanova|mariya|1988-05-06",
    ),
    (
        "person",
        &["Ivanova", "Mariya", "06.05.1988"],
        "full|ivanova|mariya|1988-05-06",
    ),
    (
        "person",
        &["Петров", "Щерьо", "1979-11-02"],
        "full|petrov|shteryo|1979-11-02",
    ),
    (
        "person",
        &["Bijlsma", "Sjoerd", "2008-02-29"],
        "full|bylsma|sjoerd|2008-02-29",
    ),
    (
        "person",
        &["Bylsma", "Sjoerd", "29-02-2008"],
        "full|bylsma|sjoerd|2008-02-29",
    ),
    (
        "person",
        &["d'Ancona", "Hedy", "1937-10-01"],
        "full|dancona|hedy|1937-10-01",
    ),
    (
        "person",
        &["Müller", "Jürgen", "1965-04-04"],
        "full|muller|jurgen|1965-04-04",
    ),
    (
        "person",
        &["Le", "Thi", "2005-06-07"],
        "full|le|thi|2005-06-07",
    ),
    (
        "person",
        &["Popescu-Ionescu", "Ana-Maria", "1999-09-09"],
        "full|popescuionescu|ana|1999-09-09",
    ),
    (
        "person",
        &["Kowalski", "Stanisław", "1970-01-31"],
        "full|kowalski|stanislaw|1970-01-31",
    ),
    (
        "person",
        &["Nguyễn", "Văn An", "2007-03-03"],
        "full|nguyen|van|2007-03-03",
    ),
    // address
    ("address", &["1234 AB", "12", ""], "pc:1234AB:12:"),
    ("address", &["1234ab", "12", ""], "pc:1234AB:12:"),
    ("address", &[" 1234  ab ", " 12 ", " "], "pc:1234AB:12:"),
    ("address", &["9712 CP", "1", "A"], "pc:9712CP:1:A"),
    ("address", &["9712CP", "1a", ""], "pc:9712CP:1:A"),
    ("address", &["9712cp", "1-A", ""], "pc:9712CP:1:A"),
    ("address", &["3431 KE", "15", "-bis"], "pc:3431KE:15:BIS"),
    ("address", &["3431KE", "15", "2 hg"], "pc:3431KE:15:2HG"),
    ("address", &["1011-ab", "105", "III"], "pc:1011AB:105:III"),
    ("bag", &["0363010000659923"], "bag:0363010000659923"),
    ("bag", &["0014 0100 0000 1234"], "bag:0014010000001234"),
    // organisation
    ("kvk", &["12345678"], "kvk:12345678"),
    ("kvk", &["1234 5678"], "kvk:12345678"),
    ("kvk", &["01234567"], "kvk:01234567"),
    ("rsin", &["111222333"], "rsin:111222333"),
    ("rsin", &["017.654.324"], "rsin:017654324"),
    // phone
    ("phone", &["06-12345678"], "+31612345678"),
    ("phone", &["06 1234 5678"], "+31612345678"),
    ("phone", &["+31 6 12345678"], "+31612345678"),
    ("phone", &["+31 (0)6 12345678"], "+31612345678"),
    ("phone", &["0031 6 12345678"], "+31612345678"),
    ("phone", &["+31612345678"], "+31612345678"),
    ("phone", &["050-3671115"], "+31503671115"),
    ("phone", &["(050) 367 71 15"], "+31503677115"),
    ("phone", &["+48 512 345 678"], "+48512345678"),
    ("phone", &["0048512345678"], "+48512345678"),
    ("phone", &["+40 712 345 678"], "+40712345678"),
    ("phone", &["+359 88 123 4567"], "+359881234567"),
    ("phone", &["+49 30 1234567"], "+49301234567"),
    // a trunk prefix after the country code is dropped, as the numbering plan says
    ("phone", &["+31 06 12345678"], "+31612345678"),
    // Polish, Romanian, Bulgarian and Ukrainian mobiles, international and from abroad
    ("phone", &["+48 601 234 567"], "+48601234567"),
    ("phone", &["0048 789-123-456"], "+48789123456"),
    ("phone", &["+40 721 234 567"], "+40721234567"),
    ("phone", &["0040 (0)745 123 456"], "+40745123456"),
    ("phone", &["+359 87 123 4567"], "+359871234567"),
    ("phone", &["+359 89 765 4321"], "+359897654321"),
    ("phone", &["+380 67 123 4567"], "+380671234567"),
    ("phone", &["+380 (50) 123-45-67"], "+380501234567"),
    ("phone", &["00380 93 123 4567"], "+380931234567"),
    // IBAN
    ("iban", &["NL91ABNA0417164300"], "NL91ABNA0417164300"),
    ("iban", &["nl91 abna 0417 1643 00"], "NL91ABNA0417164300"),
    ("iban", &["NL20 INGB 0001 2345 67"], "NL20INGB0001234567"),
    ("iban", &["NL18RABO0123459876"], "NL18RABO0123459876"),
    (
        "iban",
        &["PL61 1090 1014 0000 0712 1981 2874"],
        "PL61109010140000071219812874",
    ),
    (
        "iban",
        &["RO49 AAAA 1B31 0075 9384 0000"],
        "RO49AAAA1B31007593840000",
    ),
    (
        "iban",
        &["BG80 BNBG 9661 1020 3456 78"],
        "BG80BNBG96611020345678",
    ),
    (
        "iban",
        &["DE89 3704 0044 0532 0130 00"],
        "DE89370400440532013000",
    ),
    ("iban", &["be68-5390-0754-7034"], "BE68539007547034"),
    // vehicle
    ("vehicle", &["", "AB-12-34"], "NL:AB1234"),
    ("vehicle", &["NL", "12-34-AB"], "NL:1234AB"),
    ("vehicle", &["nl", "12-AB-34"], "NL:12AB34"),
    ("vehicle", &["", "ab-12-cd"], "NL:AB12CD"),
    ("vehicle", &["", "AB-CD-12"], "NL:ABCD12"),
    ("vehicle", &["", "12-ABC-3"], "NL:12ABC3"),
    ("vehicle", &["", "1-ABC-23"], "NL:1ABC23"),
    ("vehicle", &["", "AB-123-C"], "NL:AB123C"),
    ("vehicle", &["", "A-123-BC"], "NL:A123BC"),
    ("vehicle", &["", "ABC-12-D"], "NL:ABC12D"),
    ("vehicle", &["", "A-12-BCD"], "NL:A12BCD"),
    ("vehicle", &["", "1-AB-234"], "NL:1AB234"),
    ("vehicle", &["", "123-AB-4"], "NL:123AB4"),
    ("vehicle", &["", "12 ab cd"], "NL:12ABCD"),
    ("vehicle", &["PL", "WX 12345"], "PL:WX12345"),
    ("vehicle", &["ro", "B-123-ABC"], "RO:B123ABC"),
    ("vehicle", &["BG", "CA 1234 AB"], "BG:CA1234AB"),
    ("vehicle", &["UK", "AB12 CDE"], "GB:AB12CDE"),
    ("vehicle", &["gb", "AB12 CDE"], "GB:AB12CDE"),
    ("vehicle", &["XK", "01-123-AB"], "XK:01123AB"),
    ("vehicle", &["ua", "AA 1234 BB"], "UA:AA1234BB"),
    // online handle
    (
        "online_handle",
        &["Instagram", "@Lisa.Model_99"],
        "instagram:lisa.model_99",
    ),
    (
        "online_handle",
        &["insta", "lisa.model_99"],
        "instagram:lisa.model_99",
    ),
    (
        "online_handle",
        &["IG", "https://www.instagram.com/Lisa.Model_99/?hl=nl"],
        "instagram:lisa.model_99",
    ),
    (
        "online_handle",
        &["Telegram", "t.me/WerkInNL"],
        "telegram:werkinnl",
    ),
    ("online_handle", &["twitter", "@Jobs_NL"], "x:jobs_nl"),
    (
        "online_handle",
        &["Snap", "nina-2007"],
        "snapchat:nina-2007",
    ),
    (
        "online_handle",
        &["Vinted", "seller123"],
        "vinted:seller123",
    ),
    (
        "online_handle",
        &["Vinted", "https://www.vinted.nl/member/seller123"],
        "vinted:member",
    ),
    (
        "online_handle",
        &[
            "Facebook",
            "https://www.facebook.com/profile.php?id=100012345678",
        ],
        "facebook:100012345678",
    ),
    (
        "online_handle",
        &["fb", "https://m.facebook.com/lisa.model.99"],
        "facebook:lisa.model.99",
    ),
    (
        "online_handle",
        &["Reddit", "https://old.reddit.com/user/Jobs_NL/"],
        "reddit:jobs_nl",
    ),
    (
        "online_handle",
        &["TikTok", "https://www.tiktok.com/@lisa.model_99"],
        "tiktok:lisa.model_99",
    ),
    // dates of birth: the Dutch day-first forms, and up to today plus one day
    (
        "person",
        &["de Vries", "Anna", "14.3.1990"],
        "full|vries|anna|1990-03-14",
    ),
    (
        "person",
        &["de Vries", "Anna", "2026-12-02"],
        "full|vries|anna|2026-12-02",
    ),
    (
        "person",
        &["de Vries", "Anna", "1900-01-02"],
        "full|vries|anna|1900-01-02",
    ),
    // names: a no-break space separates like a space; two combining marks are a letter
    (
        "person",
        &["de\u{00A0}Vries", "Anna", "1990-03-14"],
        "full|vries|anna|1990-03-14",
    ),
    (
        "person",
        &["Nguye\u{0323}\u{0302}n", "Thi", "1990-03-14"],
        "full|nguyen|thi|1990-03-14",
    ),
    // BSN and postcode written with the usual separators
    ("bsn", &["123 456 782\n"], "123456782"),
    ("address", &["1234-ab", "12", ""], "pc:1234AB:12:"),
    ("address", &[" 1234  AB ", "12 bis", ""], "pc:1234AB:12:BIS"),
    ("address", &["1234AB", "12/2", ""], "pc:1234AB:12:2"),
];

/// (kind, inputs, the rule that must refuse it)
const INVALID: &[(&str, &[&str], &str)] = &[
    // BSN
    ("bsn", &[""], "bsn.required"),
    ("bsn", &["123456789"], "bsn.elfproef"),
    ("bsn", &["111222334"], "bsn.elfproef"),
    ("bsn", &["000000000"], "bsn.elfproef"),
    ("bsn", &["12345678O"], "bsn.digits"),
    ("bsn", &["1234567"], "bsn.length"),
    ("bsn", &["1234567820"], "bsn.length"),
    ("bsn", &["NL123456782"], "bsn.digits"),
    ("bsn", &["123/456/782"], "bsn.digits"),
    ("bsn", &["1234\t56782"], "bsn.digits"),
    (
        "bsn",
        &["123 456 782 123 456 782 123 456 782"],
        "bsn.too_long",
    ),
    // person: names
    (
        "person",
        &["de Vries\nERROR forged", "Anna", "1990-03-14"],
        "person.control_characters",
    ),
    (
        "person",
        &["de Vries", "Anna\u{0085}Maria", "1990-03-14"],
        "person.control_characters",
    ),
    (
        "person",
        &["de\u{200B}Vries", "Anna", "1990-03-14"],
        "person.control_characters",
    ),
    (
        "person",
        &["de Vries\u{2028}", "Anna", "1990-03-14"],
        "person.control_characters",
    ),
    (
        "person",
        &["de Vries", "Anna\u{202E}airaM", "1990-03-14"],
        "person.control_characters",
    ),
    (
        "person",
        &["de\u{0000}Vries", "Anna", "1990-03-14"],
        "person.control_characters",
    ),
    ("person", &["12345", "Anna", "1990-03-14"], "person.digits"),
    (
        "person",
        &["Jansen 2", "Anna", "1990-03-14"],
        "person.digits",
    ),
    ("person", &["Jansen", "4nna", "1990-03-14"], "person.digits"),
    (
        "person",
        &[
            "Janse\u{0301}\u{0302}\u{0303}\u{0304}n",
            "Anna",
            "1990-03-14",
        ],
        "person.combining_marks",
    ),
    // person: dates of birth
    ("person", &["de Vries", "Anna", "2000/01/01"], "date.format"),
    ("person", &["de Vries", "Anna", "2000.01.01"], "date.format"),
    ("person", &["de Vries", "Anna", "2000-1-1"], "date.format"),
    ("person", &["de Vries", "Anna", "14-03/1990"], "date.format"),
    ("person", &["de Vries", "Anna", "2026-12-03"], "date.future"),
    ("person", &["de Vries", "Anna", "2999-12-31"], "date.future"),
    ("person", &["de Vries", "Anna", "1900-01-01"], "date.range"),
    ("person", &["de Vries", "Anna", "1800-01-01"], "date.range"),
    (
        "person",
        &["de Vries", "Anna", "1990-03-14                         x"],
        "date.too_long",
    ),
    // person
    (
        "person",
        &["", "Anna", "1990-03-14"],
        "person.surname_required",
    ),
    (
        "person",
        &["de Vries", "", "1990-03-14"],
        "person.given_names_required",
    ),
    (
        "person",
        &["Παπαδόπουλος", "Nikos", "1990-03-14"],
        "person.script",
    ),
    ("person", &["Li", "李", "1990-03-14"], "person.script"),
    (
        "person",
        &["de Vries", "Anna", "1990-02-30"],
        "date.calendar",
    ),
    (
        "person",
        &["de Vries", "Anna", "2023-02-29"],
        "date.calendar",
    ),
    (
        "person",
        &["de Vries", "Anna", "1990-13-01"],
        "date.calendar",
    ),
    (
        "person",
        &["de Vries", "Anna", "14-03-90"],
        "date.four_digit_year",
    ),
    ("person", &["de Vries", "Anna", "1850-01-01"], "date.range"),
    ("person", &["de Vries", "Anna", "gisteren"], "date.format"),
    ("person", &["de Vries", "Anna", ""], "date.format"),
    // address
    ("address", &["1234 A", "12", ""], "address.postcode_format"),
    ("address", &["123 AB", "12", ""], "address.postcode_format"),
    ("address", &["0123 AB", "12", ""], "address.postcode_range"),
    ("address", &["97-12KL", "12", ""], "address.postcode_format"),
    ("address", &["9712K L", "12", ""], "address.postcode_format"),
    (
        "address",
        &["9712 - - KL", "12", ""],
        "address.postcode_format",
    ),
    ("address", &["9712 KL", "12.5", ""], "address.huisnummer"),
    ("address", &["9712 KL", "12,5", ""], "address.huisnummer"),
    (
        "address",
        &["9712 KL", "12", "A                  B"],
        "address.too_long",
    ),
    (
        "address",
        &["1234 SS", "12", ""],
        "address.postcode_letters",
    ),
    ("address", &["1234 AB", "", ""], "address.huisnummer"),
    ("address", &["1234 AB", "0", ""], "address.huisnummer"),
    ("address", &["1234 AB", "100000", ""], "address.huisnummer"),
    ("address", &["1234 AB", "a12", ""], "address.huisnummer"),
    (
        "address",
        &["1234 AB", "12a", "b"],
        "address.toevoeging_once",
    ),
    (
        "address",
        &["1234 AB", "12", "zolder"],
        "address.toevoeging_format",
    ),
    (
        "address",
        &["1234 AB", "12", "#3"],
        "address.toevoeging_format",
    ),
    ("bag", &["036301000065992"], "address.bag_format"),
    ("bag", &["0363020000659923"], "address.bag_object_type"),
    ("bag", &["0363O10000659923"], "address.bag_format"),
    // organisation
    ("kvk", &["1234567"], "organisation.kvk_length"),
    ("kvk", &["00000000"], "organisation.kvk_length"),
    ("kvk", &["1234567A"], "organisation.kvk_digits"),
    ("rsin", &["123456789"], "organisation.rsin_elfproef"),
    ("rsin", &["12345678"], "organisation.rsin_length"),
    // phone
    ("phone", &[""], "phone.required"),
    ("phone", &["612345678"], "phone.country_code"),
    ("phone", &["06-1234567"], "phone.numbering_plan"),
    ("phone", &["06-123456789"], "phone.numbering_plan"),
    ("phone", &["+48 51234567"], "phone.numbering_plan"),
    ("phone", &["06-1234567x"], "phone.digits"),
    ("phone", &["+1234567"], "phone.e164_length"),
    ("phone", &["+4912345678901234567"], "phone.e164_length"),
    ("phone", &["+999 1234567"], "phone.country_code"),
    ("phone", &["+48 601 234 56"], "phone.numbering_plan"),
    ("phone", &["+40 721 234 5678"], "phone.numbering_plan"),
    ("phone", &["+359 87 123 456"], "phone.numbering_plan"),
    ("phone", &["+380 67 123 456"], "phone.numbering_plan"),
    ("phone", &["+380 00 123 4567"], "phone.numbering_plan"),
    ("phone", &["+31 6 1234 5678 ext 12"], "phone.digits"),
    (
        "phone",
        &["+31 6 1234 5678                                                              "],
        "phone.too_long",
    ),
    ("phone", &["+0612345678"], "phone.country_code"),
    // IBAN
    ("iban", &[""], "iban.required"),
    ("iban", &["NL91ABNA0417164301"], "iban.checksum"),
    ("iban", &["NL91ABNA041716430"], "iban.length"),
    ("iban", &["NL91 1234 0417 1643 00"], "iban.format"),
    ("iban", &["9191ABNA0417164300"], "iban.format"),
    ("iban", &["PL61109010140000071219812875"], "iban.checksum"),
    ("iban", &["RO49AAAA1B3100759384000"], "iban.length"),
    ("iban", &["DE89_3704_0044_0532_0130_00"], "iban.characters"),
    ("iban", &["XX12345"], "iban.length"),
    // vehicle
    ("vehicle", &["", "AB-12-3"], "vehicle.nl_sidecode"),
    ("vehicle", &["", "ABCDEF"], "vehicle.nl_sidecode"),
    ("vehicle", &["", "123456"], "vehicle.nl_sidecode"),
    ("vehicle", &["", "AB-12-C#"], "vehicle.characters"),
    ("vehicle", &["Nederland", "AB-12-34"], "vehicle.country"),
    ("vehicle", &["PL", "W"], "vehicle.length"),
    ("vehicle", &["XX", "AB-12-34"], "vehicle.country"),
    ("vehicle", &["EU", "AB-12-34"], "vehicle.country"),
    ("vehicle", &["N", "AB-12-34"], "vehicle.country"),
    // online handle
    (
        "online_handle",
        &["", "lisa"],
        "online_handle.platform_required",
    ),
    (
        "online_handle",
        &["Instagram", ""],
        "online_handle.handle_required",
    ),
    (
        "online_handle",
        &["Instagram", "@"],
        "online_handle.handle_required",
    ),
    (
        "online_handle",
        &["Instagram", "lisa model"],
        "online_handle.characters",
    ),
    (
        "online_handle",
        &["Instagram", "lisa🙂"],
        "online_handle.characters",
    ),
    (
        "online_handle",
        &[
            "Instagram",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
        "online_handle.length",
    ),
    (
        "online_handle",
        &["Instagram", "https://www.facebook.com/lisa.model.99"],
        "online_handle.platform_mismatch",
    ),
    (
        "online_handle",
        &["Telegram", "https://wa.me/31612345678"],
        "online_handle.platform_mismatch",
    ),
    (
        "online_handle",
        &["Instagram", "https://instagram.example.com/lisa"],
        "online_handle.platform_mismatch",
    ),
];

/// The parts of an input that must never appear in an error or in `Debug`/`Display` output:
/// every input of at least four characters (shorter ones like "12" occur in ordinary words).
fn secrets<'a>(fields: &[&'a str]) -> Vec<&'a str> {
    fields
        .iter()
        .map(|f| f.trim())
        .filter(|f| f.chars().count() >= 4)
        .collect()
}

#[test]
fn the_table_is_large_enough() {
    assert!(
        VALID.len() + INVALID.len() >= 100,
        "{} cases",
        VALID.len() + INVALID.len()
    );
    for kind in [
        "bsn",
        "person",
        "address",
        "kvk",
        "phone",
        "iban",
        "vehicle",
        "online_handle",
    ] {
        assert!(
            VALID.iter().any(|(k, _, _)| *k == kind),
            "no valid case for {kind}"
        );
        assert!(
            INVALID.iter().any(|(k, _, _)| *k == kind),
            "no invalid case for {kind}"
        );
    }
}

#[test]
fn valid_spellings_normalise_to_the_expected_key() {
    let mut failures = Vec::new();
    for (kind, fields, expected) in VALID {
        match parse(kind, fields) {
            Ok(identifier) => {
                let keys = identifier.match_keys();
                if keys.first().map(|k| k.value()) != Some(*expected) {
                    failures.push(format!(
                        "{kind} {fields:?}: got {:?}, want {expected}",
                        keys.iter().map(|k| k.value()).collect::<Vec<_>>()
                    ));
                }
                for rendering in [format!("{identifier:?}"), format!("{keys:?}")] {
                    for secret in secrets(fields) {
                        assert!(!rendering.contains(secret), "{kind}: Debug shows input");
                    }
                    assert!(!rendering.contains(expected), "{kind}: Debug shows value");
                }
            }
            Err(e) => failures.push(format!("{kind} {fields:?}: refused: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_input_is_refused_by_the_named_rule_without_echoing_it() {
    let mut failures = Vec::new();
    for (kind, fields, rule) in INVALID {
        match parse(kind, fields) {
            Ok(_) => failures.push(format!("{kind} {fields:?}: accepted, want {rule}")),
            Err(e) => {
                if e.rule() != *rule {
                    failures.push(format!("{kind} {fields:?}: rule {}, want {rule}", e.rule()));
                }
                let family = match *kind {
                    "bag" => "address",
                    "kvk" | "rsin" => "organisation",
                    k => k,
                };
                if !e.field().starts_with(family) {
                    failures.push(format!(
                        "{kind} {fields:?}: field {} not under {family}",
                        e.field()
                    ));
                }
                let message = format!("{e} {e:?}");
                assert!(message.contains(e.field()) && message.contains(rule));
                for secret in secrets(fields) {
                    assert!(
                        !message.contains(secret),
                        "{kind}: error echoes the input: {message}"
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_can_be_placed_under_a_parent_field() {
    let e = Bsn::parse("123456789").unwrap_err().at("identifiers[2]");
    assert_eq!(e.field(), "identifiers[2].bsn");
    assert_eq!(e.to_string(), "identifiers[2].bsn: fails the 11-proef (weights 9..2 and -1, sum divisible by 11) (rule bsn.elfproef)");
}

#[test]
fn person_spelling_variants_meet_on_the_loose_key() {
    let loose = |s: &str, g: &str| {
        Person::parse(s, g, "1991-01-01", today())
            .unwrap()
            .match_keys()
            .last()
            .unwrap()
            .value()
            .to_owned()
    };
    assert_eq!(loose("Iwanow", "Piotr"), loose("Ivanov", "Pjotr"));
    assert_eq!(loose("Janssen", "Kees"), loose("Jansen", "K."));
    assert_eq!(loose("Mueller", "Uwe"), loose("Müller", "U"));
    assert_ne!(loose("Jansen", "Kees"), loose("Jansen", "Piet"));
}

#[test]
fn person_initial_key_meets_full_name_and_initials() {
    let keys = |g: &str| {
        Person::parse("de Vries", g, "1990-03-14", today())
            .unwrap()
            .match_keys()
    };
    let full = keys("Anna Maria");
    let initials = keys("A.M.");
    assert!(
        full.iter().any(|k| initials.contains(k)),
        "initial key should be shared"
    );
    assert_eq!(full.len(), 3);
    assert_eq!(initials.len(), 2);
}

/// Every field has a limit, checked before the value is normalised: a megabyte is refused by
/// the field's `too_long` rule, quickly, and the error neither echoes the value nor its length.
#[test]
fn every_field_refuses_a_megabyte_by_its_too_long_rule() {
    let mb = "a".repeat(1 << 20);
    let cases: Vec<(Result<Identifier, IdentifierError>, &str, &str)> = vec![
        (
            Person::parse(&mb, "Anna", "1990-03-14", today()).map(Identifier::Person),
            "person.surname",
            "person.too_long",
        ),
        (
            Person::parse("Jansen", &mb, "1990-03-14", today()).map(Identifier::Person),
            "person.given_names",
            "person.too_long",
        ),
        (
            Person::parse("Jansen", "Anna", &mb, today()).map(Identifier::Person),
            "person.date_of_birth",
            "date.too_long",
        ),
        (Bsn::parse(&mb).map(Identifier::Bsn), "bsn", "bsn.too_long"),
        (
            Address::parse_postal(&mb, "12", "").map(Identifier::Address),
            "address.postcode",
            "address.too_long",
        ),
        (
            Address::parse_postal("1234 AB", &mb, "").map(Identifier::Address),
            "address.huisnummer",
            "address.too_long",
        ),
        (
            Address::parse_postal("1234 AB", "12", &mb).map(Identifier::Address),
            "address.toevoeging",
            "address.too_long",
        ),
        (
            Address::parse_bag(&mb).map(Identifier::Address),
            "address.bag_verblijfsobject_id",
            "address.too_long",
        ),
        (
            Organisation::parse_kvk(&mb).map(Identifier::Organisation),
            "organisation.kvk",
            "organisation.too_long",
        ),
        (
            Organisation::parse_rsin(&mb).map(Identifier::Organisation),
            "organisation.rsin",
            "organisation.too_long",
        ),
        (
            Phone::parse(&mb).map(Identifier::Phone),
            "phone",
            "phone.too_long",
        ),
        (
            Iban::parse(&mb).map(Identifier::Iban),
            "iban",
            "iban.too_long",
        ),
        (
            Vehicle::parse(&mb, "AB-12-34").map(Identifier::Vehicle),
            "vehicle.country",
            "vehicle.too_long",
        ),
        (
            Vehicle::parse("NL", &mb).map(Identifier::Vehicle),
            "vehicle.plate",
            "vehicle.too_long",
        ),
        (
            OnlineHandle::parse(&mb, "lisa").map(Identifier::OnlineHandle),
            "online_handle.platform",
            "online_handle.too_long",
        ),
        (
            OnlineHandle::parse("Instagram", &mb).map(Identifier::OnlineHandle),
            "online_handle.handle",
            "online_handle.too_long",
        ),
    ];
    for (result, field, rule) in cases {
        let e = result.unwrap_err();
        assert_eq!((e.field(), e.rule()), (field, rule), "{e}");
        assert!(e.to_string().len() < 200, "{e}");
        assert!(!e.to_string().contains("aaaa"), "{e}");
        assert!(!e.to_string().contains(&(1 << 20).to_string()), "{e}");
    }
}

/// The limits are the documented ones and are measured in characters, not bytes: the longest
/// BRP surname with its voorvoegsel, in Cyrillic (two bytes a letter), is accepted.
#[test]
fn limits_count_characters_and_admit_the_longest_brp_names() {
    use signaalnet_identifier::limits;
    assert_eq!((limits::SURNAME, limits::GIVEN_NAMES), (212, 200));
    let surname = format!("{}, van de ter", "Щ".repeat(200));
    assert_eq!(surname.chars().count(), limits::SURNAME);
    let given = "Ю".repeat(200);
    assert!(surname.len() > limits::SURNAME);
    Person::parse(&surname, &given, "1990-03-14", today()).unwrap();
    let e = Person::parse(&format!("{surname}Щ"), &given, "1990-03-14", today()).unwrap_err();
    assert_eq!(e.rule(), "person.too_long");
    let e = Person::parse(&surname, &format!("{given}Ю"), "1990-03-14", today()).unwrap_err();
    assert_eq!(e.rule(), "person.too_long");
}

/// 5,000 combining marks on one letter (the case) are refused by the mark rule, not
/// folded into a plain name.
#[test]
fn a_stack_of_combining_marks_is_refused() {
    let zalgo = format!("Jan{}sen", "\u{0301}".repeat(5_000));
    let e = Person::parse("de Vries", &zalgo, "1990-03-14", today()).unwrap_err();
    // Longer than the limit first; within it, the mark rule.
    assert_eq!(e.rule(), "person.too_long");
    let zalgo = format!("Jan{}sen", "\u{0301}".repeat(150));
    let e = Person::parse(&zalgo, "Anna", "1990-03-14", today()).unwrap_err();
    assert_eq!(
        (e.field(), e.rule()),
        ("person.surname", "person.combining_marks")
    );
}

/// Vehicle countries are the assigned ISO 3166-1 codes: the countries whose vans bring workers
/// in are accepted, unassigned codes are refused.
#[test]
fn vehicle_countries_are_assigned_iso_codes() {
    for code in [
        "NL", "PL", "RO", "BG", "UA", "DE", "BE", "HU", "SK", "CZ", "NG", "LT", "LV", "MD", "AL",
        "RS", "VN", "CN", "MA", "TR", "XK",
    ] {
        Vehicle::parse(code, "AB-12-34").unwrap();
    }
    for code in ["XX", "EU", "AA", "QQ", "ZZ", "UN", "EW"] {
        assert_eq!(
            Vehicle::parse(code, "AB123").unwrap_err().rule(),
            "vehicle.country"
        );
    }
}
