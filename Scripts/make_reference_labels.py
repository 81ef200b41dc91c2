#!/usr/bin/env python3
"""Write data/int8_api/reference_labels.txt: the 1000 ImageNet-1k class names, one per line, line number − 1 =
class index (the format of TensorRT sampleINT8API's reference_labels.txt).

The names come from torchvision's `torchvision/models/_meta.py` (`_IMAGENET_CATEGORIES`, BSD-3-Clause; its
licence is kept beside the output as LICENSE.torchvision). The file is parsed, not imported, so torchvision's
compiled extension need not load.

usage: python3 Scripts/make_reference_labels.py [OUT_DIR]   (default data/int8_api)
"""
import ast, importlib.util, os, shutil, sys

out_dir = sys.argv[1] if len(sys.argv) > 1 else "data/int8_api"
spec = importlib.util.find_spec("torchvision")
if spec is None or not spec.submodule_search_locations:
    sys.exit("torchvision is not installed: pip install --no-deps torchvision")
package = spec.submodule_search_locations[0]
tree = ast.parse(open(os.path.join(package, "models", "_meta.py")).read())
categories = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_IMAGENET_CATEGORIES" for t in node.targets))
assert len(categories) == 1000, len(categories)
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "reference_labels.txt"), "w") as f:
    f.write("".join(name + "\n" for name in categories))
dist = [d for d in os.listdir(os.path.dirname(package)) if d.startswith("torchvision-") and d.endswith(".dist-info")]
for d in dist:
    for name in ("LICENSE", "licenses/LICENSE"):
        src = os.path.join(os.path.dirname(package), d, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(out_dir, "LICENSE.torchvision"))
            break
print(f"wrote {out_dir}/reference_labels.txt ({len(categories)} classes)")
