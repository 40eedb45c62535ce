import pytest

from tests.workers.test_processing import kill_tree


@pytest.fixture
def start_worker(processes):
    """The Procfile's worker; torn down with its whole tree, since its celery nodes run in
    sessions of their own and would outlive a process-group kill."""
    started = []

    def start(**env: str):
        proc = processes("worker", **env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        kill_tree(proc.popen.pid)
