"""Mutation testing of the harness: plant small concurrency bugs, see if ``racekit check`` notices.

A fixed variant is only as clean as the bugs its search would catch.  This
package makes *mutants* of a fixed variant's code (ConMAn-style concurrency
operators plus a few plain ones), runs each through the same search as
``racekit check`` in a scratch copy of the catalogue, and reports which
ones the harness killed and which survived.

Kept free of imports on purpose: ``racekit.mutation.probe`` is imported by
instrumented system code inside harness worker processes, which load only
the ``racekit`` submodules they need.
"""
