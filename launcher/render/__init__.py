"""The pure core: a resolved experiment and its run id to the Kubernetes objects of one run (ConfigMap,
headless Service, Indexed Job and its pod template). No clock, files or network; golden-file tested.

May import: config, schema.
"""
