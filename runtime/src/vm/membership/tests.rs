use super::*;
use crate::value::Value;
use proptest::prelude::*;

fn strings(items: &[&str]) -> Strings {
    let list: Vec<Value> = items.iter().map(|s| Value::str(s)).collect();
    Strings::of(&list).expect("a list of strings")
}

#[test]
fn finds_exactly_the_strings_of_the_list() {
    let set = strings(&["", "a", "pkg37", "pkg5037", "absent1", "é"]);
    for present in ["", "a", "pkg37", "pkg5037", "absent1", "é"] {
        assert!(set.contains(present), "{present:?}");
    }
    // Same length, first, middle and last byte as a member: compared in full.
    for absent in ["b", "pkg47", "pkg3037", "absent2", "pkg5137", "e", "aa"] {
        assert!(!set.contains(absent), "{absent:?}");
    }
}

#[test]
fn a_list_with_anything_but_strings_keeps_the_general_comparison() {
    assert!(Strings::of(&[Value::str("a"), Value::Int(1)]).is_none());
    assert!(Strings::of(&[Value::Absent]).is_none());
    assert!(Strings::of(&[]).is_some_and(|s| !s.contains("")));
}

proptest! {
    #[test]
    fn answers_as_equality_does(
        list in prop::collection::vec("[ab]{0,4}", 0..6),
        item in "[ab]{0,4}",
    ) {
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        prop_assert_eq!(strings(&refs).contains(&item), list.contains(&item));
    }
}
