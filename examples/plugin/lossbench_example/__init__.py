"""An example lossbench plugin: Poly-1 loss, a residual MLP and scikit-learn's two moons."""
