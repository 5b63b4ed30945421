/* k8s_client.c: not written yet. */
