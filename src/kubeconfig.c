/* kubeconfig.c: not written yet. */
