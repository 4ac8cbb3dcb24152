#include "admin/defaults.h"

/* Short timeouts: a public server that does not answer must give way fast. */
#define PUBLIC "enabled = 1\nwhitelist_enabled = 1\nconcurrency = 4\ntimeout_s = 10\n"

const struct default_server default_servers[] = {
	{"microsoft",
	 "type = symsrv\nurl = https://msdl.microsoft.com/download/symbols\npriority = 10\n" PUBLIC,
	 "# Windows system libraries: PDBs and images\n"
	 "ntdll.*\nwntdll.*\nkernel32.*\nwkernel32.*\nkernelbase.*\nwkernelbase.*\nuser32.*\nwuser32.*\n"
	 "win32u.*\nwwin32u.*\ngdi32.*\ngdi32full.*\nucrtbase.*\nmsvcrt.*\nmsvcp_win.*\nvcruntime140*.*\n"
	 "msvcp140*.*\ncombase.*\nole32.*\noleaut32.*\nrpcrt4.*\nsechost.*\nadvapi32.*\nshell32.*\n"
	 "shlwapi.*\nws2_32.*\nmswsock.*\nd3d11.*\nd3d12.*\ndxgi.*\nd3d9.*\nopengl32.*\ncrypt32.*\n"
	 "bcrypt.*\nbcryptprimitives.*\nwin32kbase.*\nwin32kfull.*\nntoskrnl.*\nntkrnlmp.*\nhal.*\n"
	 "dbghelp.*\nuxtheme.*\ncomctl32.*\nwininet.*\nwinhttp.*\nmf.*\nmfplat.*\nxinput1_4.*\n"},
	{"mozilla",
	 "type = http\nurl = https://symbols.mozilla.org\npriority = 20\n" PUBLIC,
	 "# Firefox and Thunderbird modules\n"
	 "xul.*\nlibxul.so*\nXUL\nfirefox.*\nthunderbird.*\nmozglue.*\nlibmozglue.so*\nnss3.*\nlibnss3.so*\n"
	 "freebl3.*\nsoftokn3.*\nlgpllibs.*\nmozavcodec.*\nmozavutil.*\nplugin-container.*\n"},
	{"electron",
	 "type = http\nurl = https://symbols.electronjs.org\npriority = 30\n" PUBLIC,
	 "# Electron runtime\nelectron.exe.pdb\nelectron\nElectron Framework\nnode.dll.pdb\nlibffmpeg.so\n"
	 "ffmpeg.dll.pdb\nlibEGL.dll.pdb\nlibGLESv2.dll.pdb\n"},
	{"amd",
	 "type = symsrv\nurl = https://download.amd.com/dir/bin\npriority = 40\n" PUBLIC,
	 "# AMD display drivers\namdxx64.*\namdxx32.*\natidxx64.*\natidxx32.*\natiumd64.*\natiumdag.*\n"
	 "atiuxp64.*\namdvlk64.*\namdvlk32.*\natig6pxx.*\natio6axx.*\namdihk64.*\n"},
	{"chromium",
	 "type = symsrv\nurl = https://chromium-browser-symsrv.commondatastorage.googleapis.com\n"
	 "priority = 50\n" PUBLIC,
	 "# Chrome and Chromium on Windows\nchrome.dll.pdb\nchrome.exe.pdb\nchrome_elf.dll.pdb\n"
	 "chrome_child.dll.pdb\nlibEGL.dll.pdb\nlibGLESv2.dll.pdb\nchrome.dll\nchrome.exe\nchrome_elf.dll\n"},
	{"debuginfod",
	 "type = debuginfod\nurl = https://debuginfod.elfutils.org\npriority = 60\n" PUBLIC,
	 "# every build-id lookup (.build-id/xx/rest.debug, as gdb asks)\n.build-id\n"
	 "# Linux system libraries\nlibc.so.6\nlibm.so.6\nlibpthread.so.0\nlibdl.so.2\nlibrt.so.1\n"
	 "ld-linux-x86-64.so.2\nld-linux-aarch64.so.1\nlibstdc++.so.6\nlibgcc_s.so.1\nlibz.so.1\n"
	 "libssl.so.3\nlibcrypto.so.3\nlibX11.so.6\nlibxcb.so.1\nlibglib-2.0.so.0\nlibgobject-2.0.so.0\n"
	 "libgtk-3.so.0\nlibdbus-1.so.3\nlibsystemd.so.0\nlibEGL.so.1\nlibGL.so.1\nlibGLX.so.0\n"
	 "libvulkan.so.1\nlibasound.so.2\nlibpulse.so.0\nlibfontconfig.so.1\nlibfreetype.so.6\n"},
};

const size_t default_server_count = sizeof default_servers / sizeof default_servers[0];
