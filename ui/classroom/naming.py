"""Students' names as the Class page shows them: a second "Ada" (in the order given) is "Ada (2)"."""
from __future__ import annotations


def shown(pairs) -> dict[str, str]:
    """Each member's name as shown, by key, from (key, display name) pairs in joining order: nobody merges."""
    names, seen = {}, {}
    for key, display_name in pairs:
        n = seen[display_name] = seen.get(display_name, 0) + 1
        name = display_name if n == 1 else f"{display_name} ({n})"
        while name in names.values():  # someone typed "Ada (2)" themselves
            n += 1
            name = f"{display_name} ({n})"
        names[key] = name
    return names
