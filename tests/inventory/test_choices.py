"""Every sync status is either final or one a run still waits on: a status added later has to be
placed, or runs would never finish (or finish early)."""

from inventory.choices import FINAL_REGION_STATES, FINAL_SYNC_STATES, RegionSyncStatus, SyncStatus


def test_it_places_every_region_status_as_final_or_waiting() -> None:
    waiting = {RegionSyncStatus.PENDING, RegionSyncStatus.RUNNING}
    assert FINAL_REGION_STATES | waiting == set(RegionSyncStatus)
    assert not FINAL_REGION_STATES & waiting


def test_it_places_every_run_status_as_final_or_waiting() -> None:
    waiting = {SyncStatus.QUEUED, SyncStatus.RUNNING}
    assert FINAL_SYNC_STATES | waiting == set(SyncStatus)
    assert not FINAL_SYNC_STATES & waiting
