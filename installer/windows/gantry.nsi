; Gantry's Windows installer (NSIS 3, built on Linux by installer/windows/build-installer.sh).
; Per-user: installs into %LOCALAPPDATA%\Programs\Gantry without administrator rights (WSL 2
; itself needs an administrator once: docs/windows.md). Bundles the desktop app, the `gantry`
; command and the guest's WSL root filesystems; the user's data (%LOCALAPPDATA%\gantry, the WSL
; distributions gantry and gantry-data) is never removed by the uninstaller.
;
; makensis -DVERSION=0.1.0 -DSTAGE=DIR -DOUTFILE=FILE gantry.nsi
; DIR holds gantry-desktop.exe, gantry.exe, guest\wsl-rootfs.tar.gz, guest\wsl-data.tar.gz,
; guest\VERSION, guest\SHA256SUMS (vm-images/wsl-rootfs.sh's output; gantry-machine's
; wsl2::Rootfs::in_dir reads them).

Unicode true
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

Section "Gantry" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${STAGE}\gantry-desktop.exe"
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
SectionEnd

Section "Uninstall"
  ; program files only: the VM and its data stay (`gantry delete --data` removes them)
  Delete "$INSTDIR\gantry-desktop.exe"
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
