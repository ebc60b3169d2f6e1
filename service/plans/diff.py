"""What changed between two versions of a relapse-prevention plan: a pure function, for the
pages and the API alike (versions are stored whole, so the difference is computed on reading)."""

from __future__ import annotations

from collections import Counter

from service.plans.schemas import ContactChange, CrisisContact, ListChange, PlanDiff, PlanOut


def _list_change(before: list[str], after: list[str]) -> ListChange:
    # As multisets: an item written twice and kept once counts as one removed.
    old, new = Counter(before), Counter(after)
    added, removed = new - old, old - new
    return ListChange(
        added=_take(after, added),
        removed=_take(before, removed),
    )


def _take(items: list[str], wanted: Counter[str]) -> list[str]:
    """The items `wanted` counts, in the order they appear (the last occurrences)."""
    left = Counter(wanted)
    picked: list[str] = []
    for item in reversed(items):
        if left[item] > 0:
            left[item] -= 1
            picked.append(item)
    return list(reversed(picked))


def _key(contact: CrisisContact) -> str:
    return contact.name.casefold()


def _contacts(
    before: list[CrisisContact], after: list[CrisisContact]
) -> tuple[list[CrisisContact], list[CrisisContact], list[ContactChange]]:
    """(added, removed, changed): identical contacts are kept; a contact whose name is in both
    versions with another relationship or number is a change (a new number matters most)."""
    old = list(before)
    new: list[CrisisContact] = []
    for contact in after:
        if contact in old:
            old.remove(contact)
        else:
            new.append(contact)
    changed: list[ContactChange] = []
    added: list[CrisisContact] = []
    for contact in new:
        same_name = next((o for o in old if _key(o) == _key(contact)), None)
        if same_name is None:
            added.append(contact)
        else:
            old.remove(same_name)
            changed.append(ContactChange(before=same_name, after=contact))
    return added, old, changed


def diff_plans(before: PlanOut, after: PlanOut) -> PlanDiff:
    added, removed, changed = _contacts(before.crisis_contacts, after.crisis_contacts)
    return PlanDiff(
        from_version=before.version,
        to_version=after.version,
        early_warning_signs=_list_change(before.early_warning_signs, after.early_warning_signs),
        triggers=_list_change(before.triggers, after.triggers),
        coping_strategies=_list_change(before.coping_strategies, after.coping_strategies),
        crisis_contacts_added=added,
        crisis_contacts_removed=removed,
        crisis_contacts_changed=changed,
        check_in_question_changed=before.check_in_question != after.check_in_question,
        check_in_question_before=before.check_in_question,
        check_in_question_after=after.check_in_question,
    )
