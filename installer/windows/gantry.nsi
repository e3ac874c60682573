; Gantry's Windows installer (NSIS 3, built on Linux by installer/windows/build-installer.sh).
; Per-user: installs into %LOCALAPPDATA%\Programs\Gantry without administrator rights (WSL 2
; itself needs an administrator once: docs/windows.md). Bundles the desktop app with its
; WebView2 loader, the `gantry` command and the guest's WSL root filesystems; the user's data
; (%LOCALAPPDATA%\gantry, the WSL distributions gantry and gantry-data) is never removed by the
; uninstaller. A 64-bit installer: Gantry runs on x64 Windows only.
;
; makensis -DVERSION=0.1.0 -DSTAGE=DIR -DOUTFILE=FILE gantry.nsi
; DIR holds gantry-desktop.exe, WebView2Loader.dll, gantry.exe, guest\wsl-rootfs.tar.gz,
; guest\wsl-data.tar.gz, guest\VERSION, guest\SHA256SUMS (vm-images/wsl-rootfs.sh's output;
; gantry-machine's wsl2::Rootfs::in_dir reads them).

Unicode true
Target amd64-unicode
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "define VERSION"
!endif
!ifndef STAGE
  !error "define STAGE (the staged files)"
!endif
!ifndef OUTFILE
  !define OUTFILE "Gantry-${VERSION}-x64-setup.exe"
!endif

Name "Gantry ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Gantry"
InstallDirRegKey HKCU "Software\Gantry" "InstallDir"

!include "MUI2.nsh"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "Russian"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Gantry"
; Microsoft Edge WebView2 Runtime's client key (its "pv" value is the installed version)
!define WEBVIEW2_KEY "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

LangString NoWebView2 ${LANG_ENGLISH} "Gantry's window needs the Microsoft Edge WebView2 Runtime, which this Windows does not have (Windows 11 includes it; on Windows 10 it comes with Microsoft Edge's updates). Install the Evergreen runtime from https://developer.microsoft.com/microsoft-edge/webview2/ and then open Gantry. The gantry command works without it."
LangString NoWebView2 ${LANG_RUSSIAN} "Окну Gantry нужна среда Microsoft Edge WebView2 Runtime, а в этой Windows её нет (в Windows 11 она есть; в Windows 10 приходит с обновлениями Microsoft Edge). Установите Evergreen Runtime с https://developer.microsoft.com/microsoft-edge/webview2/ и откройте Gantry. Команда gantry работает и без неё."

Section "Gantry" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${STAGE}\gantry-desktop.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\gantry.exe"
  SetOutPath "$INSTDIR\guest"
  File "${STAGE}\guest\wsl-rootfs.tar.gz"
  File "${STAGE}\guest\wsl-data.tar.gz"
  File "${STAGE}\guest\VERSION"
  File "${STAGE}\guest\SHA256SUMS"

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKCU "Software\Gantry" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "Gantry"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Gantry"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1

  CreateDirectory "$SMPROGRAMS\Gantry"
  CreateShortcut "$SMPROGRAMS\Gantry\Gantry.lnk" "$INSTDIR\gantry-desktop.exe"

  ; the runtime is per machine (64-bit Windows: the 32-bit registry view) or per user
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_KEY}" "pv"
  StrCmp $0 "" 0 +2
  ReadRegStr $0 HKCU "Software\${WEBVIEW2_KEY}" "pv"
  StrCmp $0 "" no_webview2
  StrCmp $0 "0.0.0.0" no_webview2 webview2_done
  no_webview2:
    DetailPrint "$(NoWebView2)"
    MessageBox MB_OK|MB_ICONEXCLAMATION "$(NoWebView2)" /SD IDOK
  webview2_done:
SectionEnd

Section "Uninstall"
  ; program files only: the VM and its data stay (`gantry delete --data` removes them)
  Delete "$INSTDIR\gantry-desktop.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\gantry.exe"
  Delete "$INSTDIR\guest\wsl-rootfs.tar.gz"
  Delete "$INSTDIR\guest\wsl-data.tar.gz"
  Delete "$INSTDIR\guest\VERSION"
  Delete "$INSTDIR\guest\SHA256SUMS"
  RMDir "$INSTDIR\guest"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Gantry\Gantry.lnk"
  RMDir "$SMPROGRAMS\Gantry"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\Gantry"
SectionEnd
