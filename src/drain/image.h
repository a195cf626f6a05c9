/* image: the ext4 images that cap a session's workspace and memory.
 *
 * An image is every block allocated up front (so no other session filling
 * the state filesystem can make its writes fail later), formatted, its
 * root directory the jail ids'.  mkfs.ext4 runs once per size and ids, on
 * a sparse template (STATE/templates, root's): each image after it is the
 * template's written extents copied into a fresh allocation, a millisecond
 * where mkfs is a process and six.  Templates of sizes or ids no longer
 * configured go at the next sweep. */
#ifndef SANDHOOK_IMAGE_H
#define SANDHOOK_IMAGE_H

#include "common/config.h"

/* Whether this process can make images and the jail mount them: root,
 * loop devices, mkfs.ext4. */
int image_possible(void);
/* An image of mb MiB at path, made under path.new and renamed: 0, or -1
 * with errno. */
int image_create(const char *path, long mb, const struct config *cfg);
/* Makes the image open read-write in fd, of mb MiB, a fresh one again,
 * allocated in full, as image_create makes it: 0, or -1 with errno
 * (EOPNOTSUPP where the state filesystem cannot zero a range in place).
 * Nothing may have it attached. */
int image_reset(int fd, long mb, const struct config *cfg);
/* Whether a loop device is still backed by the image: a jail's mount of
 * it outlives the jail's processes for a moment (the kernel tears the
 * namespace down after the last one exits), and two ext4 mounts of one
 * image at once would corrupt it. */
int image_attached(const char *image);
/* Removes the templates the current settings do not use. */
void image_templates_sweep(const struct config *cfg);

#endif
