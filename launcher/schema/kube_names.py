"""The API server's rules for names, label keys and label values (k8s.io/apimachinery/pkg/util/validation),
checked when a config is validated so that no object it renders is rejected later."""

import re

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_LIMIT = 63  # a label value, and the name part of a label key
SUBDOMAIN_LIMIT = 253  # a DNS-1123 subdomain: object names such as a PriorityClass, label key prefixes
CHARACTERS = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit"


def check_label_key(key: str) -> str:
    """A label key (or taint key): [a DNS subdomain prefix '/'] a name of at most 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > SUBDOMAIN_LIMIT or not DNS1123_SUBDOMAIN.match(prefix)):
        raise ValueError(f"{key!r}: the prefix before '/' must be a lowercase DNS subdomain such as example.com")
    if len(name) > LABEL_LIMIT or not QUALIFIED_NAME_PART.match(name):
        raise ValueError(f"{key!r} is not a label key: a name of at most {LABEL_LIMIT} {CHARACTERS}, "
                         "optionally after a DNS subdomain and '/'")
    return key


def check_label_value(value: str) -> str:
    """A label value: empty, or at most 63 characters of the name alphabet."""
    if value and (len(value) > LABEL_LIMIT or not QUALIFIED_NAME_PART.match(value)):
        raise ValueError(f"{value!r} is not a label value: at most {LABEL_LIMIT} {CHARACTERS}")
    return value


def check_subdomain(name: str) -> str:
    """An object name that must be a DNS-1123 subdomain (PriorityClass, LocalQueue)."""
    if len(name) > SUBDOMAIN_LIMIT or not DNS1123_SUBDOMAIN.match(name):
        raise ValueError(f"{name!r} is not a valid object name: lowercase letters, digits, '-' and '.', "
                         "starting and ending with a letter or digit")
    return name
