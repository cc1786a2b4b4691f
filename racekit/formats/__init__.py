"""Readers for recorded histories from other tools.

``load(path, fmt)`` parses a file in one of ``FORMATS``:

* ``jepsen-etcd`` - Jepsen etcd register logs (Porcupine's ``test_data/jepsen``)
* ``porcupine-kv`` - Porcupine's kv logs (``test_data/kv``)
* ``jepsen-edn`` - Jepsen ``history.edn`` and Knossos's test histories
"""

from racekit.formats.jepsen import (
    PARSERS,
    load,
    parse,
    parse_etcd_log,
    parse_jepsen_edn,
    parse_porcupine_kv,
    sniff,
)

FORMATS = tuple(PARSERS)

__all__ = ["FORMATS", "load", "parse", "parse_etcd_log", "parse_jepsen_edn", "parse_porcupine_kv", "sniff"]
