/** Exit status of a GPU worker process that found no CUDA device (it never registers). */
export const EXIT_NO_DEVICE_STATUS = 3;
