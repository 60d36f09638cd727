# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw start time vs image size per backend from a cow.storage benchmark JSON; print the PNG path.

  cow_bench_chart.py RESULTS.json OUT.png

Needs matplotlib on the controller (requirements.txt); without it, exits 2 with the reason.
"""
import json
import sys


def main(src, dest):
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        sys.stderr.write("matplotlib is not installed on the controller (%s)\n" % exc)
        return 2
    with open(src) as fh:
        summary = json.load(fh)["summary"]
    real = [r for r in summary["start"] if r.get("kind") == "rootfs"]
    fig, axes = plt.subplots(1, 3 if real else 2, figsize=(16 if real else 11, 4.5))
    if real:
        # real distribution images: start time against the image's number of files, per backend
        series = {}
        for row in real:
            series.setdefault("%s (%s)" % (row["driver"], row["host"]), []).append(row)
        ax = axes[2]
        for label, rows in sorted(series.items()):
            rows.sort(key=lambda r: r["files"] or 0)
            ax.plot([r["files"] for r in rows], [r["median"] for r in rows], marker="o", label=label)
            for row in rows:
                ax.annotate(row["name"], (row["files"], row["median"]), fontsize="x-small")
        ax.set_title("docker run --rm IMG true, real images")
        ax.set_xlabel("files in the image")
        ax.set_ylabel("seconds (median)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    for ax, key, title in ((axes[0], "start", "docker run --rm IMG true"),
                           (axes[1], "create", "docker create (clone of the image)")):
        series = {}
        for row in summary[key]:
            if row.get("kind", "generated") != "generated":
                continue
            series.setdefault("%s (%s)" % (row["driver"], row["host"]), []).append(row)
        for label, rows in sorted(series.items()):
            rows.sort(key=lambda r: r["size_mib"])
            x = [r["size_mib"] for r in rows]
            y = [r["median"] for r in rows]
            err = [[r["median"] - r["min"] for r in rows], [r["max"] - r["median"] for r in rows]]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("image size (MiB of generated data)")
        ax.set_ylabel("seconds (median, min-max)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("cow.storage: container start vs image size per storage backend")
    fig.tight_layout()
    fig.savefig(dest, dpi=100)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
