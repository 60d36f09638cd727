# Copyright: cow.storage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw start time vs image size per backend from a cow.storage benchmark JSON; print the PNG path.

  cow_bench_chart.py RESULTS.json OUT.png

Needs matplotlib on the controller (requirements-lab.txt, so make lab draws it); without it, exits 2 with the reason.
Only panels with data are drawn: make lab's quick table (one real image) is a bar per backend with its ratio to vfs.
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
    generated = [(key, title) for key, title in (("start", "docker run --rm IMG true"), ("create", "docker create (clone of the image)"))
                 if any(r.get("kind", "generated") == "generated" for r in summary.get(key) or [])]
    # only panels with data: make lab's quick mode measures one real image and no generated layers
    panels = len(generated) + (1 if real else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels if panels > 1 else 8, 4.5), squeeze=False)
    axes = list(axes[0])
    if real:
        ax = axes.pop()
        if len(set(r["name"] for r in real)) == 1:
            # one image: a bar per backend, its median start and how many times faster than vfs it starts
            rows = sorted(real, key=lambda r: r["median"], reverse=True)
            vfs = next((r["median"] for r in rows if r["driver"] == "vfs"), None)
            labels = ["%s (%s)" % (r["driver"], r["host"]) for r in rows]
            bars = ax.barh(labels, [r["median"] for r in rows], color=["#c44e52" if r["driver"] == "vfs" else "#4c72b0" for r in rows])
            for rect, row in zip(bars, rows):
                note = "%.2f s" % row["median"] + ("  (%.1f× faster than vfs)" % (vfs / row["median"]) if vfs and row["driver"] != "vfs" else "")
                ax.annotate(note, (rect.get_width(), rect.get_y() + rect.get_height() / 2), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize="small")
            ax.set_xlim(0, max(r["median"] for r in rows) * 1.6)
            ax.set_title("docker run --rm IMG true: %s (%s files, %s MiB)" % (rows[0]["name"], "{:,}".format(rows[0].get("files") or 0),
                                                                              rows[0].get("size_mib", "?")))
            ax.set_xlabel("seconds (median)")
            ax.grid(True, axis="x", alpha=0.3)
        else:
            # several real distribution images: start time against the image's number of files, per backend
            series = {}
            for row in real:
                series.setdefault("%s (%s)" % (row["driver"], row["host"]), []).append(row)
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
    for ax, (key, title) in zip(axes, generated):
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
    fig.suptitle("cow.storage: container start per storage backend" if panels == 1 and len(set(r["name"] for r in real)) == 1
                 else "cow.storage: container start vs image size per storage backend")
    fig.tight_layout()
    fig.savefig(dest, dpi=100)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
