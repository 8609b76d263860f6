#!/usr/bin/python3
"""Queue a download with the bits worker over D-Bus, print its progress,
wait until it is transferred and complete it.

Usage: download.py URL LOCALFILE

It needs PyGObject (Debian: python3-gi) and a worker on the session bus
(`bitsjob worker`).
"""
import os
import sys

from gi.repository import Gio, GLib

SERVICE = "org.bits.Transfer1"
UNKNOWN = 2**64 - 1  # BytesTotal until the server tells the size


def proxy(path, interface):
    return Gio.DBusProxy.new_for_bus_sync(
        Gio.BusType.SESSION, Gio.DBusProxyFlags.NONE, None,
        SERVICE, path, interface, None)


def main():
    if len(sys.argv) != 3:
        print("usage: download.py URL LOCALFILE", file=sys.stderr)
        return 2
    url, local = sys.argv[1], os.path.abspath(sys.argv[2])

    manager = proxy("/org/bits/Transfer1", "org.bits.Transfer1.Manager")
    path = manager.CreateJob("(su)", "download example", 0)  # 0: download
    # The job's proxy follows its properties and signals from now on, so
    # nothing that happens after Resume is missed.
    job = proxy(path, "org.bits.Transfer1.Job")
    job.AddFile("(ss)", url, local)

    loop = GLib.MainLoop()
    end = None  # the signal that ended the transfer, and its arguments

    def on_properties_changed(job, changed, invalidated):
        changed = changed.unpack()
        if "BytesTransferred" not in changed and "BytesTotal" not in changed:
            return
        done = job.get_cached_property("BytesTransferred").unpack()
        total = job.get_cached_property("BytesTotal").unpack()
        if total == UNKNOWN:
            print(f"progress: {done} bytes, size unknown", flush=True)
        else:
            print(f"progress: {done} of {total} bytes", flush=True)

    def on_signal(job, sender, signal, params):
        nonlocal end
        if signal in ("JobTransferred", "JobError"):
            end = signal, params.unpack()
            loop.quit()

    job.connect("g-properties-changed", on_properties_changed)
    job.connect("g-signal", on_signal)
    job.Resume("()")
    loop.run()

    signal, args = end
    if signal == "JobError":
        code, context, description = args
        print(f"error: 0x{code:08x}: {description}", file=sys.stderr)
        job.Cancel("()")
        return 1
    job.Complete("()")  # the file takes its name only now
    print(f"done: {local}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GLib.Error as e:
        print(f"error: {e.message}", file=sys.stderr)
        sys.exit(1)
